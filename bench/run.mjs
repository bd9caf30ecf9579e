#!/usr/bin/env node
// npm run bench [-- --quick] [-- --only receive,sizes,...]
// Every case runs in fresh processes on 127.0.0.1, interleaved with its comparison, and
// reports medians with min–max; ratios are taken per repetition, within the same run.
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { randomUUID } from 'node:crypto'
import { median, spawnCase, summary, here } from './lib.mjs'
import { BUDGETS, measureAll } from './sizes.mjs'

const argv = process.argv.slice(2)
const quick = argv.includes('--quick')
const only = argv.find((a) => a.startsWith('--only='))?.slice(7).split(',')
const want = (name) => !only || only.includes(name)
const REPS = quick ? 1 : 5
const started = Date.now()
const results = { machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version }, date: new Date().toISOString(), quick, reps: REPS, cases: {} }
const log = (...a) => console.log(...a)

async function receive(mode, n) {
  const server = spawnCase('cases/receive-server.mjs', [mode === 'socketio' ? 'socketio' : 'native', String(n)])
  try {
    const { port } = await server.next('listening')
    const client = spawnCase('cases/receive-client.mjs', [mode, String(port), String(n)])
    try {
      const r = await client.next('result', 180_000)
      return r.rate
    } finally {
      await client.stop()
    }
  } finally {
    await server.stop()
  }
}

async function fanout({ server: mode, clients, kind = 'raw', m, gateways = 1, latency }) {
  const prefix = `bench-${randomUUID().slice(0, 8)}`
  const servers = []
  for (let g = 0; g < gateways; g++) servers.push(spawnCase('cases/fanout-server.mjs', [mode, prefix], { execArgv: ['--expose-gc'] }))
  try {
    const ports = []
    for (const s of servers) ports.push((await s.next('listening')).port)
    const cl = spawnCase('cases/fanout-clients.mjs', [kind, ports.join(','), String(clients)])
    try {
      await cl.next('ready', 180_000)
      servers[0].send({ type: 'rss' })
      const { rss, baseline } = await servers[0].next('rss')
      if (latency) {
        cl.send({ type: 'expect', total: Infinity, latency: true })
        await cl.next('armed')
        servers[0].send({ type: 'paced', everyMs: latency.everyMs, durationMs: latency.durationMs })
        await servers[0].next('published', latency.durationMs + 60_000)
        await new Promise((r) => setTimeout(r, 500))
        cl.send({ type: 'latencies' })
        return await cl.next('latencies')
      }
      cl.send({ type: 'expect', total: clients * m })
      await cl.next('armed')
      servers[0].send({ type: 'burst', m })
      const got = await cl.next('received', 180_000)
      return { deliveriesPerSec: (got.count / got.ms) * 1000, rssPer100: ((rss - baseline) / (clients / gateways)) * 100 }
    } finally {
      await cl.stop()
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()))
  }
}

const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : String(x))
const row = (s, d = 0) => `${fmt(s.median, d)} (${fmt(s.min, d)}–${fmt(s.max, d)})`
const table = []

// 1. Receive throughput (Node)
if (want('receive')) {
  const n = quick ? 20_000 : 500_000
  const runs = { raw: [], agentwire: [], socketio: [] }
  const ratio = { agentwire: [], socketio: [] }
  for (let rep = 0; rep < REPS; rep++) {
    const order = rep % 2 ? ['agentwire', 'raw', 'socketio'] : ['raw', 'agentwire', 'socketio']
    const got = {}
    for (const mode of order) got[mode] = await receive(mode, n)
    for (const k of Object.keys(runs)) runs[k].push(got[k])
    ratio.agentwire.push(got.agentwire / got.raw)
    ratio.socketio.push(got.socketio / got.raw)
    log(`receive rep ${rep + 1}: raw ${fmt(got.raw)}/s, agentwire ${fmt(got.agentwire)}/s (${fmt(ratio.agentwire.at(-1), 2)}), socket.io ${fmt(got.socketio)}/s (${fmt(ratio.socketio.at(-1), 2)})`)
  }
  results.cases.receive = { events: n, msgsPerSec: Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, summary(v)])), ratioToRaw: { agentwire: summary(ratio.agentwire), socketio: summary(ratio.socketio) }, goal: { agentwire: 0.85 } }
  table.push(['receive: raw ws + JSON.parse', `${row(summary(runs.raw))} msg/s`, '1.00', 'the limit'])
  table.push(['receive: agentwire Node client', `${row(summary(runs.agentwire))} msg/s`, row(summary(ratio.agentwire), 2), `goal ≥ 0.85: ${median(ratio.agentwire) >= 0.85 ? 'met' : 'not met'}`])
  table.push(['receive: socket.io-client', `${row(summary(runs.socketio))} msg/s`, row(summary(ratio.socketio), 2), 'peer'])
}

// 2. Browser bundle sizes
if (want('sizes')) {
  const sizes = await measureAll()
  results.cases.sizes = { bundles: sizes, budgets: BUDGETS }
  for (const s of sizes) {
    const budget = BUDGETS[s.name]
    table.push([`size: ${s.name}`, `${fmt(s.gzip / 1024, 1)} KB gzip, ${fmt(s.brotli / 1024, 1)} KB br, ${fmt(s.minified / 1024, 1)} KB min`, '', budget ? `budget ≤ ${fmt(budget / 1024, 1)} KB: ${s.gzip <= budget ? 'met' : 'not met'}` : s.peer ? 'peer' : s.note])
  }
}

// 3. Gateway fan-out
if (want('fanout')) {
  results.cases.fanout = {}
  for (const clients of quick ? [200] : [1000, 5000]) {
    const m = quick ? 50 : clients >= 5000 ? 60 : 200
    const runs = { raw: [], agentwire: [] }
    const rss = []
    const ratio = []
    for (let rep = 0; rep < REPS; rep++) {
      const order = rep % 2 ? ['agentwire', 'raw'] : ['raw', 'agentwire']
      const got = {}
      for (const mode of order) got[mode] = await fanout({ server: mode, clients, m })
      runs.raw.push(got.raw.deliveriesPerSec)
      runs.agentwire.push(got.agentwire.deliveriesPerSec)
      rss.push(got.agentwire.rssPer100 / 2 ** 20)
      ratio.push(got.agentwire.deliveriesPerSec / got.raw.deliveriesPerSec)
      log(`fanout ${clients} rep ${rep + 1}: raw ${fmt(got.raw.deliveriesPerSec)}/s, agentwire ${fmt(got.agentwire.deliveriesPerSec)}/s (${fmt(ratio.at(-1), 2)}), ${fmt(rss.at(-1), 2)} MB/100 conns`)
    }
    results.cases.fanout[clients] = { eventsPerRun: m, deliveriesPerSec: { raw: summary(runs.raw), agentwire: summary(runs.agentwire) }, ratioToRaw: summary(ratio), rssMBPer100: summary(rss), goal: { ratio: 0.8, rssMBPer100: 0.5 } }
    table.push([`fan-out ${clients} clients: raw ws broadcast`, `${row(summary(runs.raw))} deliveries/s`, '1.00', ''])
    table.push([`fan-out ${clients} clients: agentwire gateway`, `${row(summary(runs.agentwire))} deliveries/s`, row(summary(ratio), 2), `goal ≥ 0.8: ${median(ratio) >= 0.8 ? 'met' : 'not met'}`])
    table.push([`memory ${clients} clients: agentwire gateway`, `${row(summary(rss), 2)} MB RSS per 100 connections`, '', `goal ≤ 0.5: ${median(rss) <= 0.5 ? 'met' : 'not met'}`])
  }
}

// 4. Latency: publish -> handler. 1,000 clients; one event every 10 ms (see bench/README.md for why not 1 ms).
if (want('latency')) {
  const clients = quick ? 100 : 1000
  const spec = { everyMs: 10, durationMs: quick ? 1000 : 10_000 }
  const p = { raw: [], agentwire: [] }
  const max = { raw: [], agentwire: [] }
  const p50 = { raw: [], agentwire: [] }
  const met = []
  for (let rep = 0; rep < REPS; rep++) {
    const got = {}
    for (const mode of rep % 2 ? ['agentwire', 'raw'] : ['raw', 'agentwire']) {
      got[mode] = await fanout({ server: mode, clients, kind: mode === 'raw' ? 'raw' : 'agentwire', latency: spec })
      p[mode].push(got[mode].p99)
      p50[mode].push(got[mode].p50)
      max[mode].push(got[mode].max)
    }
    met.push(got.agentwire.p99 <= 1.2 * got.raw.p99 + 1)
    log(`latency rep ${rep + 1}: raw p50 ${fmt(got.raw.p50, 2)} p99 ${fmt(got.raw.p99, 2)} ms; agentwire p50 ${fmt(got.agentwire.p50, 2)} p99 ${fmt(got.agentwire.p99, 2)} ms`)
  }
  results.cases.latency = { clients, ...spec, p50: { raw: summary(p50.raw), agentwire: summary(p50.agentwire) }, p99: { raw: summary(p.raw), agentwire: summary(p.agentwire) }, max: { raw: summary(max.raw), agentwire: summary(max.agentwire) }, goal: 'p99 ≤ 1.2 × raw + 1 ms' }
  table.push([`latency ${clients} clients: raw ws`, `p50 ${row(summary(p50.raw), 2)} / p99 ${row(summary(p.raw), 2)} / max ${fmt(median(max.raw), 1)} ms`, '', ''])
  const goal = 1.2 * median(p.raw) + 1
  table.push([`latency ${clients} clients: agentwire`, `p50 ${row(summary(p50.agentwire), 2)} / p99 ${row(summary(p.agentwire), 2)} / max ${fmt(median(max.agentwire), 1)} ms`, '', `goal p99 ≤ ${fmt(goal, 2)} ms: ${median(p.agentwire) <= goal ? 'met' : 'not met'}`])
}

// 5. React: one agent of 1,000 updates 1,000 times
if (want('react')) {
  const updates = quick ? 100 : 1000
  const runs = []
  for (let rep = 0; rep < REPS; rep++) {
    const c = spawnCase('cases/react.mjs', [String(updates)])
    try {
      runs.push(await c.next('result', 180_000))
    } finally {
      await c.stop()
    }
    log(`react rep ${rep + 1}: ${runs.at(-1).targetRenders} renders of the updated row, ${runs.at(-1).otherRenders} of the others, ${fmt(runs.at(-1).msPerUpdate, 3)} ms/update`)
  }
  const ms = summary(runs.map((r) => r.msPerUpdate))
  results.cases.react = { agents: 1000, updates, targetRenders: runs.map((r) => r.targetRenders), otherRenders: runs.map((r) => r.otherRenders), msPerUpdate: ms }
  const ok = runs.every((r) => r.targetRenders === updates && r.otherRenders === 0)
  table.push(['react: 1,000 rows, one updates', `${runs[0].targetRenders} renders of it, ${runs[0].otherRenders} of the rest; ${row(ms, 3)} ms/update`, '', `goal ${updates} renders: ${ok ? 'met' : 'not met'}`])
}

// 6. Scale-out on Redis: the same clients on one gateway, then on two
if (want('scaleout')) {
  const clients = quick ? 200 : 1000
  const m = quick ? 50 : 200
  const one = []
  const two = []
  const ratio = []
  for (let rep = 0; rep < REPS; rep++) {
    const a = await fanout({ server: 'redis', clients, m, gateways: 1 })
    const b = await fanout({ server: 'redis', clients, m, gateways: 2 })
    one.push(a.deliveriesPerSec)
    two.push(b.deliveriesPerSec)
    ratio.push(b.deliveriesPerSec / a.deliveriesPerSec)
    log(`scale-out rep ${rep + 1}: one gateway ${fmt(a.deliveriesPerSec)}/s, two ${fmt(b.deliveriesPerSec)}/s (${fmt(ratio.at(-1), 2)}×)`)
  }
  results.cases.scaleout = { clients, eventsPerRun: m, deliveriesPerSec: { one: summary(one), two: summary(two) }, ratio: summary(ratio), goal: 1.6 }
  table.push([`scale-out ${clients} clients: one gateway on Redis`, `${row(summary(one))} deliveries/s`, '1.00', ''])
  table.push([`scale-out ${clients} clients: two gateways on Redis`, `${row(summary(two))} deliveries/s`, row(summary(ratio), 2), `goal ≥ 1.6×: ${median(ratio) >= 1.6 ? 'met' : 'not met'}`])
}

results.seconds = Math.round((Date.now() - started) / 1000)
const widths = [0, 1, 2, 3].map((i) => Math.max(...table.map((r) => String(r[i]).length), 4))
const line = (r) => r.map((c, i) => String(c).padEnd(widths[i])).join('  ')
log('')
log(line(['case', 'median (min–max)', 'ratio', 'goal']))
for (const r of table) log(line(r))
log(`\n${REPS} repetition(s), ${results.seconds} s, ${results.machine.cpus} × ${results.machine.cpu}, Node ${results.machine.node}`)

mkdirSync(here('results'), { recursive: true })
const name = quick ? 'quick' : 'latest'
writeFileSync(here(`results/${name}.json`), `${JSON.stringify(results, null, 2)}\n`)
const md = [
  `# agentwire benchmark${quick ? ' (quick smoke)' : ''}`,
  '',
  `${results.date.slice(0, 10)} · ${results.machine.cpus} × ${results.machine.cpu} · ${results.machine.memGiB} GiB · Node ${results.machine.node} · ${REPS} repetition(s) · ${results.seconds} s`,
  '',
  '| case | median (min–max) | ratio | goal |',
  '| --- | --- | --- | --- |',
  ...table.map((r) => `| ${r.join(' | ')} |`),
  '',
]
writeFileSync(here(`results/${name}.md`), md.join('\n'))
log(`wrote bench/results/${name}.json and bench/results/${name}.md`)
