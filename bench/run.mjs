#!/usr/bin/env node
// npm run bench [-- --quick] [-- --only receive,sizes,...]
// Every case runs in fresh processes on 127.0.0.1, interleaved with its comparison, and
// reports medians with min–max; ratios are taken per repetition, within the same run.
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { randomUUID } from 'node:crypto'
import { infoDelta, median, spawnCase, startRedis, summary, here } from './lib.mjs'
import { BUDGETS, byPart, measureAll } from './sizes.mjs'

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
      if (latency) {
        cl.send({ type: 'expect', total: Infinity, latency: true })
        await cl.next('armed')
        servers[0].send({ type: 'cpu' })
        const cpu0 = (await servers[0].next('cpu')).micros
        const t0 = performance.now()
        servers[0].send({ type: 'paced', everyMs: latency.everyMs, durationMs: latency.durationMs })
        await servers[0].next('published', latency.durationMs + 60_000)
        await new Promise((r) => setTimeout(r, 500))
        servers[0].send({ type: 'cpu' })
        const serverCpuShare = ((await servers[0].next('cpu')).micros - cpu0) / ((performance.now() - t0) * 1000)
        cl.send({ type: 'latencies' })
        const measured = { ...(await cl.next('latencies')), serverCpuShare }
        if (!latency.costEveryMs) return measured
        // Then the client process's CPU per delivery at a rate it keeps up with: at the measured
        // rate a saturated process spends a whole core whatever each delivery costs.
        cl.send({ type: 'expect', total: Infinity, latency: true })
        await cl.next('armed')
        servers[0].send({ type: 'paced', everyMs: latency.costEveryMs, durationMs: latency.costDurationMs })
        await servers[0].next('published', latency.costDurationMs + 60_000)
        await new Promise((r) => setTimeout(r, 500))
        cl.send({ type: 'latencies' })
        const slow = await cl.next('latencies')
        // Its latencies too: what a delivery takes when neither process is saturated.
        return { ...measured, cpuMicrosPerDelivery: slow.cpuMicrosPerDelivery, unsaturated: { p50: slow.p50, p99: slow.p99, max: slow.max } }
      }
      cl.send({ type: 'expect', total: clients * m })
      await cl.next('armed')
      servers[0].send({ type: 'burst', m })
      const got = await cl.next('received', 180_000)
      return { deliveriesPerSec: (got.count / got.ms) * 1000 }
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

// 2. Browser bundle sizes: each entry point, each seed dialect alone and what it adds to
// createClient, and the root bundle by module (esbuild metafile), biggest first.
if (want('sizes')) {
  const sizes = await measureAll()
  const root = sizes.find((s) => s.name === 'agentwire')
  const parts = byPart(root.modules)
  results.cases.sizes = { bundles: sizes.map(({ modules, ...s }) => s), budgets: BUDGETS, rootModules: root.modules, rootParts: parts }
  for (const s of sizes) {
    const budget = BUDGETS[s.name]
    const added = s.added ? `; +${fmt(s.added.gzip / 1024, 1)} KB gzip over createClient` : ''
    table.push([`size: ${s.name}`, `${fmt(s.gzip / 1024, 1)} KB gzip, ${fmt(s.brotli / 1024, 1)} KB br, ${fmt(s.minified / 1024, 1)} KB min${added}`, '', budget ? `budget ≤ ${fmt(budget / 1024, 1)} KB: ${s.gzip <= budget ? 'met' : 'not met'}` : s.peer ? 'peer' : s.note])
  }
  // Where the bytes go: what each part's modules cost in gzip (the bundle's gzip minus the
  // bundle's without them, module by module; see gzipByModule).
  table.push(['size: agentwire by part', parts.map((p) => `${p.part} ${fmt(p.gzip / 1024, 1)}`).join(', ') + ' KB gzip', '', 'what each part\'s modules cost'])
  log('createClient bundle by module (minified bytes, gzip bytes it costs, biggest first):')
  for (const m of root.modules.slice(0, 12)) log(`  ${fmt(m.bytes).padStart(7)}  ${fmt(m.share * 100, 1).padStart(5)} %  ${fmt(m.gzip ?? 0).padStart(6)}  ${m.module}`)
}

// 2b. Gateway memory per idle connection (welcomed, one channel), against a raw `ws` server in
// the same run: after GC, (at N - at 0) / N, each measurement in fresh processes. Then again
// after `idleMs` with nothing happening: V8's memory reducer shrinks an idle process's young
// generation, which right after the connections came still holds their garbage resident.
const IDLE_MS = 15_000
async function memory(mode, n, idleMs) {
  const server = spawnCase('cases/fanout-server.mjs', [mode], { execArgv: ['--expose-gc'] })
  try {
    const { port } = await server.next('listening')
    server.send({ type: 'mem' })
    const at0 = await server.next('mem')
    const cl = spawnCase('cases/fanout-clients.mjs', ['raw', String(port), String(n)])
    try {
      await cl.next('ready', 180_000)
      // The welcome is sent before the resumed channel is joined; wait until all are.
      let atN
      for (let i = 0; i < 100; i++) {
        server.send({ type: 'mem' })
        atN = await server.next('mem')
        if (mode === 'raw' || atN.subscriptions >= n) break
        await new Promise((r) => setTimeout(r, 100))
      }
      const got = { rss: (atN.rss - at0.rss) / n, heap: (atN.heap - at0.heap) / n, external: (atN.external - at0.external) / n }
      if (!idleMs) return got
      await new Promise((r) => setTimeout(r, idleMs))
      server.send({ type: 'mem' })
      const idle = await server.next('mem')
      return { ...got, idle: { rss: (idle.rss - at0.rss) / n, heap: (idle.heap - at0.heap) / n } }
    } finally {
      await cl.stop()
    }
  } finally {
    await server.stop()
  }
}

if (want('memory')) {
  const n = quick ? 500 : 3000
  const runs = { raw: [], agentwire: [] }
  const ratio = { rss: [], heap: [], idleRss: [] }
  const idleMs = quick ? 0 : IDLE_MS
  for (let rep = 0; rep < REPS; rep++) {
    const got = {}
    for (const mode of rep % 2 ? ['agentwire', 'raw'] : ['raw', 'agentwire']) got[mode] = await memory(mode, n, idleMs)
    runs.raw.push(got.raw)
    runs.agentwire.push(got.agentwire)
    ratio.rss.push(got.agentwire.rss / got.raw.rss)
    ratio.heap.push(got.agentwire.heap / got.raw.heap)
    if (idleMs) ratio.idleRss.push(got.agentwire.idle.rss / got.raw.idle.rss)
    log(`memory ${n} rep ${rep + 1}: raw ws ${fmt(got.raw.rss / 1024, 1)} KB RSS, ${fmt(got.raw.heap / 1024, 1)} KB heap; gateway ${fmt(got.agentwire.rss / 1024, 1)} KB RSS, ${fmt(got.agentwire.heap / 1024, 1)} KB heap per connection`)
  }
  const kb = (xs, k) => summary(xs.map((x) => x[k] / 1024))
  const idleOf = (m) => runs[m].map((x) => x.idle)
  results.cases.memory = {
    connections: n,
    kbPerConnection: Object.fromEntries(['raw', 'agentwire'].map((m) => [m, { rss: kb(runs[m], 'rss'), heap: kb(runs[m], 'heap'), external: kb(runs[m], 'external') }])),
    ratioToRaw: { rss: summary(ratio.rss), heap: summary(ratio.heap) },
    goal: 'RSS and heap per connection ≤ 1.5 × raw ws',
    ...(idleMs ? { afterIdle: { ms: idleMs, kbPerConnection: Object.fromEntries(['raw', 'agentwire'].map((m) => [m, { rss: kb(idleOf(m), 'rss'), heap: kb(idleOf(m), 'heap') }])), ratioToRaw: { rss: summary(ratio.idleRss) } } } : {}),
  }
  table.push([`memory ${n} idle conns: raw ws server`, `RSS ${row(kb(runs.raw, 'rss'), 1)} KB, heap ${row(kb(runs.raw, 'heap'), 1)} KB per connection`, '1.00', ''])
  const ok = median(ratio.rss) <= 1.5 && median(ratio.heap) <= 1.5
  table.push([`memory ${n} idle conns: gateway (welcomed, one channel)`, `RSS ${row(kb(runs.agentwire, 'rss'), 1)} KB, heap ${row(kb(runs.agentwire, 'heap'), 1)} KB per connection`, `RSS ${row(summary(ratio.rss), 2)}, heap ${row(summary(ratio.heap), 2)}`, `goal ≤ 1.5× raw: ${ok ? 'met' : 'not met'}`])
  if (idleMs) {
    table.push([`memory ${n} idle conns, ${idleMs / 1000} s later`, `RSS: raw ws ${row(kb(idleOf('raw'), 'rss'), 1)} KB, gateway ${row(kb(idleOf('agentwire'), 'rss'), 1)} KB per connection`, `RSS ${row(summary(ratio.idleRss), 2)}`, 'the same processes once V8 has shrunk their young generation (bench/profile-memory.mjs --alloc: what the connections allocated)'])
  }
}

// 3. Gateway fan-out
if (want('fanout')) {
  results.cases.fanout = {}
  for (const clients of quick ? [200] : [1000, 5000]) {
    const m = quick ? 50 : clients >= 5000 ? 60 : 200
    const runs = { raw: [], agentwire: [] }
    const ratio = []
    for (let rep = 0; rep < REPS; rep++) {
      const order = rep % 2 ? ['agentwire', 'raw'] : ['raw', 'agentwire']
      const got = {}
      for (const mode of order) got[mode] = await fanout({ server: mode, clients, m })
      runs.raw.push(got.raw.deliveriesPerSec)
      runs.agentwire.push(got.agentwire.deliveriesPerSec)
      ratio.push(got.agentwire.deliveriesPerSec / got.raw.deliveriesPerSec)
      log(`fanout ${clients} rep ${rep + 1}: raw ${fmt(got.raw.deliveriesPerSec)}/s, agentwire ${fmt(got.agentwire.deliveriesPerSec)}/s (${fmt(ratio.at(-1), 2)})`)
    }
    results.cases.fanout[clients] = { eventsPerRun: m, deliveriesPerSec: { raw: summary(runs.raw), agentwire: summary(runs.agentwire) }, ratioToRaw: summary(ratio), goal: { ratio: 0.8 } }
    table.push([`fan-out ${clients} clients: raw ws broadcast`, `${row(summary(runs.raw))} deliveries/s`, '1.00', ''])
    table.push([`fan-out ${clients} clients: agentwire gateway`, `${row(summary(runs.agentwire))} deliveries/s`, row(summary(ratio), 2), `goal ≥ 0.8: ${median(ratio) >= 0.8 ? 'met' : 'not met'}`])
  }
}

// 4. Latency: publish -> handler. 1,000 clients; one event every 10 ms (see bench/README.md for why not 1 ms).
if (want('latency')) {
  const clients = quick ? 100 : 1000
  const spec = { everyMs: 10, durationMs: quick ? 1000 : 10_000, costEveryMs: 40, costDurationMs: quick ? 1000 : 4000 }
  const p = { raw: [], agentwire: [] }
  const max = { raw: [], agentwire: [] }
  const p50 = { raw: [], agentwire: [] }
  // Where the tail comes from: each process's share of one core while events flow, and the
  // client process's event-loop delay (a loop that lags queues every delivery behind it).
  const clientCpu = { raw: [], agentwire: [] }
  const clientLoop = { raw: [], agentwire: [] }
  const clientPerDelivery = { raw: [], agentwire: [] }
  const clientGc = { raw: [], agentwire: [] }
  // The same clients at one event per `costEveryMs`, a rate neither process saturates at.
  const slow = { p50: { raw: [], agentwire: [] }, p99: { raw: [], agentwire: [] } }
  const serverCpu = { raw: [], agentwire: [] }
  const met = []
  for (let rep = 0; rep < REPS; rep++) {
    const got = {}
    for (const mode of rep % 2 ? ['agentwire', 'raw'] : ['raw', 'agentwire']) {
      got[mode] = await fanout({ server: mode, clients, kind: mode === 'raw' ? 'raw' : 'agentwire', latency: spec })
      p[mode].push(got[mode].p99)
      p50[mode].push(got[mode].p50)
      max[mode].push(got[mode].max)
      clientCpu[mode].push(got[mode].cpuShare * 100)
      clientLoop[mode].push(got[mode].loopDelayP99Ms)
      clientPerDelivery[mode].push(got[mode].cpuMicrosPerDelivery)
      clientGc[mode].push(got[mode].gcMicrosPerDelivery)
      slow.p50[mode].push(got[mode].unsaturated.p50)
      slow.p99[mode].push(got[mode].unsaturated.p99)
      serverCpu[mode].push(got[mode].serverCpuShare * 100)
    }
    met.push(got.agentwire.p99 <= 1.5 * got.raw.p99 + 1)
    log(`latency rep ${rep + 1}: raw p50 ${fmt(got.raw.p50, 2)} p99 ${fmt(got.raw.p99, 2)} ms; agentwire p50 ${fmt(got.agentwire.p50, 2)} p99 ${fmt(got.agentwire.p99, 2)} ms`)
  }
  results.cases.latency = { clients, ...spec, p50: { raw: summary(p50.raw), agentwire: summary(p50.agentwire) }, p99: { raw: summary(p.raw), agentwire: summary(p.agentwire) }, max: { raw: summary(max.raw), agentwire: summary(max.agentwire) }, goal: 'p99 ≤ 1.5 × raw + 1 ms', unsaturated: { everyMs: spec.costEveryMs, p50: { raw: summary(slow.p50.raw), agentwire: summary(slow.p50.agentwire) }, p99: { raw: summary(slow.p99.raw), agentwire: summary(slow.p99.agentwire) } }, clientCpuPercent: { raw: summary(clientCpu.raw), agentwire: summary(clientCpu.agentwire) }, clientLoopDelayP99Ms: { raw: summary(clientLoop.raw), agentwire: summary(clientLoop.agentwire) }, clientCpuMicrosPerDelivery: { raw: summary(clientPerDelivery.raw), agentwire: summary(clientPerDelivery.agentwire) }, clientGcMicrosPerDelivery: { raw: summary(clientGc.raw), agentwire: summary(clientGc.agentwire) }, serverCpuPercent: { raw: summary(serverCpu.raw), agentwire: summary(serverCpu.agentwire) } }
  table.push([`latency ${clients} clients: raw ws`, `p50 ${row(summary(p50.raw), 2)} / p99 ${row(summary(p.raw), 2)} / max ${fmt(median(max.raw), 1)} ms`, '', ''])
  const goal = 1.5 * median(p.raw) + 1
  table.push([`latency ${clients} clients: agentwire`, `p50 ${row(summary(p50.agentwire), 2)} / p99 ${row(summary(p.agentwire), 2)} / max ${fmt(median(max.agentwire), 1)} ms`, '', `goal p99 ≤ ${fmt(goal, 2)} ms: ${median(p.agentwire) <= goal ? 'met' : 'not met'}`])
  table.push([`latency ${clients} clients at one event per ${spec.costEveryMs} ms`, `p50 / p99: raw ws ${row(summary(slow.p50.raw), 2)} / ${row(summary(slow.p99.raw), 2)} ms, agentwire ${row(summary(slow.p50.agentwire), 2)} / ${row(summary(slow.p99.agentwire), 2)} ms`, `p99 ${row(summary(slow.p99.agentwire.map((x, i) => x / slow.p99.raw[i])), 2)}`, 'the same processes at a rate neither saturates: what a delivery costs in time, without queueing'])
  for (const mode of ['raw', 'agentwire']) {
    table.push([`latency ${clients} clients: where the time goes, ${mode === 'raw' ? 'raw ws' : 'agentwire'}`, `client process ${row(summary(clientCpu[mode]))} % of a core, its CPU per delivery ${row(summary(clientPerDelivery[mode]), 1)} µs (at one event per ${spec.costEveryMs} ms; at one per ${spec.everyMs} ms a whole core is ${fmt(1e6 / (clients * (1000 / spec.everyMs)), 1)} µs per delivery), its event loop lagging ${row(summary(clientLoop[mode]), 1)} ms at p99, garbage collection ${row(summary(clientGc[mode]), 2)} µs per delivery (at one per ${spec.everyMs} ms); server process ${row(summary(serverCpu[mode]))} %`, '', ''])
  }
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

// 6. Scale-out on Redis, in CPU rather than deliveries/s: two gateways share this machine's two
// cores with their clients, the publisher and Redis, so throughput cannot double here. What
// does not depend on the core count: CPU seconds per 1,000 deliveries of each gateway process,
// and Redis's CPU, commands and bytes per event, with one gateway and with two (each serving
// half the clients). A publisher process of its own publishes, so the gateways only deliver.
// Redis is a redis-server of the run's own, so INFO counts this run alone.
async function onRedis(redis, { clients, gateways }, work) {
  const prefix = `bench-${randomUUID().slice(0, 8)}`
  const servers = []
  for (let g = 0; g < gateways; g++) servers.push(spawnCase('cases/fanout-server.mjs', ['redis', prefix, redis.url]))
  try {
    const ports = []
    for (const s of servers) ports.push((await s.next('listening')).port)
    const cl = spawnCase('cases/fanout-clients.mjs', ['raw', ports.join(','), String(clients)])
    const pub = spawnCase('cases/publisher.mjs', [redis.url, prefix], { execArgv: ['--expose-gc'] })
    try {
      await cl.next('ready', 180_000)
      await pub.next('ready')
      const cpu = async () => Promise.all(servers.map(async (s) => (s.send({ type: 'cpu' }), (await s.next('cpu')).micros)))
      return await work({ servers, cl, pub, cpu, prefix })
    } finally {
      await Promise.all([cl.stop(), pub.stop()])
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()))
  }
}

async function scaleRun(redis, clients, m, gateways) {
  return onRedis(redis, { clients, gateways }, async ({ cl, pub, cpu }) => {
    // Warm (JIT, script cache) outside the measured window.
    const warm = Math.ceil(m / 5)
    cl.send({ type: 'expect', total: clients * warm })
    await cl.next('armed')
    pub.send({ type: 'burst', m: warm })
    await cl.next('received', 180_000)
    await pub.next('published', 180_000)
    cl.send({ type: 'expect', total: clients * m })
    await cl.next('armed')
    const g0 = await cpu()
    const r0 = redis.info()
    pub.send({ type: 'burst', m })
    const got = await cl.next('received', 180_000)
    const published = await pub.next('published', 180_000)
    const g1 = await cpu()
    const r = infoDelta(r0, redis.info())
    const perGateway = g1.map((c, i) => (c - g0[i]) / 1e6 / ((clients / gateways) * m / 1000))
    return { gatewayCpuPer1000: median(perGateway), perGateway, redisMicrosPerEvent: (r.cpu * 1e6) / m, redisCommandsPerEvent: r.commands / m, redisBytesOutPerEvent: r.bytesOut / m, redisBytesInPerEvent: r.bytesIn / m, publisherMicrosPerEvent: published.cpuMicros / m, deliveriesPerSec: (got.count / got.ms) * 1000 }
  })
}

const redisNeeded = want('scaleout') || want('publish')
const redis = redisNeeded ? await startRedis() : undefined
if (redisNeeded && !redis) log('scale-out and publish skipped: no redis-server on PATH')

if (want('scaleout') && redis) {
  const clients = quick ? 200 : 1000
  const m = quick ? 100 : 500
  const one = []
  const two = []
  const ratio = { gateway: [], redis: [] }
  for (let rep = 0; rep < REPS; rep++) {
    const got = {}
    for (const g of rep % 2 ? [2, 1] : [1, 2]) got[g] = await scaleRun(redis, clients, m, g)
    one.push(got[1])
    two.push(got[2])
    ratio.gateway.push(got[2].gatewayCpuPer1000 / got[1].gatewayCpuPer1000)
    ratio.redis.push(got[2].redisMicrosPerEvent / got[1].redisMicrosPerEvent)
    log(`scale-out rep ${rep + 1}: gateway CPU per 1,000 deliveries ${fmt(got[1].gatewayCpuPer1000 * 1000, 1)} ms (one), ${got[2].perGateway.map((c) => fmt(c * 1000, 1)).join(' / ')} ms (two); Redis ${fmt(got[1].redisMicrosPerEvent)} / ${fmt(got[2].redisMicrosPerEvent)} µs per event`)
  }
  const pick = (xs, k, f = 1) => summary(xs.map((x) => x[k] * f))
  const per = (xs) => ({ gatewayMsPer1000: pick(xs, 'gatewayCpuPer1000', 1000), redisMicrosPerEvent: pick(xs, 'redisMicrosPerEvent'), redisCommandsPerEvent: pick(xs, 'redisCommandsPerEvent'), redisBytesOutPerEvent: pick(xs, 'redisBytesOutPerEvent'), redisBytesInPerEvent: pick(xs, 'redisBytesInPerEvent'), publisherMicrosPerEvent: pick(xs, 'publisherMicrosPerEvent'), deliveriesPerSec: pick(xs, 'deliveriesPerSec') })
  const a = per(one)
  const b = per(two)
  // Redis per event grows with the gateways by what one more subscriber connection costs:
  // extrapolated linearly from one and two, the cost at 10 and 100 gateways.
  // A second gateway that cost Redis less than the first is noise: counted as flat, not negative.
  const at = (k, g) => a[k].median + Math.max(0, b[k].median - a[k].median) * (g - 1)
  const projection = Object.fromEntries([10, 100].map((g) => [g, { redisMicrosPerEvent: at('redisMicrosPerEvent', g), eventsPerSecOnOneRedisCore: 1e6 / at('redisMicrosPerEvent', g), commandsPerEvent: at('redisCommandsPerEvent', g), bytesOutPerEvent: at('redisBytesOutPerEvent', g) }]))
  results.cases.scaleout = { clients, eventsPerRun: m, one: a, two: b, ratio: { gatewayCpuPerDelivery: summary(ratio.gateway), redisCpuPerEvent: summary(ratio.redis) }, projection, goal: 'gateway CPU per delivery, two vs one ≤ 1.2×; Redis CPU per event flat' }
  table.push([`scale-out ${clients} clients, one gateway on Redis`, `gateway ${row(a.gatewayMsPer1000, 1)} ms CPU / 1,000 deliveries; Redis ${row(a.redisMicrosPerEvent)} µs, ${fmt(a.redisCommandsPerEvent.median, 1)} cmds, ${fmt(a.redisBytesOutPerEvent.median)} B out / event; ${fmt(a.deliveriesPerSec.median)} deliveries/s`, '1.00', ''])
  table.push([`scale-out ${clients} clients, two gateways on Redis`, `gateway ${row(b.gatewayMsPer1000, 1)} ms CPU / 1,000 deliveries; Redis ${row(b.redisMicrosPerEvent)} µs, ${fmt(b.redisCommandsPerEvent.median, 1)} cmds, ${fmt(b.redisBytesOutPerEvent.median)} B out / event; ${fmt(b.deliveriesPerSec.median)} deliveries/s`, `gateway ${row(summary(ratio.gateway), 2)}, Redis ${row(summary(ratio.redis), 2)}`, `goal gateway ≤ 1.2×: ${median(ratio.gateway) <= 1.2 ? 'met' : 'not met'}; Redis flat (≤ 1.2×): ${median(ratio.redis) <= 1.2 ? 'met' : 'not met'}`])
  for (const g of [10, 100]) {
    const p = projection[g]
    table.push([`scale-out projection, ${g} gateways`, `Redis ${fmt(p.redisMicrosPerEvent)} µs, ${fmt(p.commandsPerEvent, 1)} cmds, ${fmt(p.bytesOutPerEvent)} B out per event → ≤ ${fmt(p.eventsPerSecOnOneRedisCore)} events/s on one Redis core`, '', 'linear from one and two'])
  }
}

// 7. The publish path on Redis: µs of CPU per event of a publisher process and of Redis, at 50
// and 1,000 events/s, with two gateways (and their clients) subscribed; by default, and with
// `coalesceMs: 2` (batching in time while a channel is busy: up to 2 ms more latency then).
if (want('publish') && redis) {
  const COALESCE_MS = 2
  const clients = quick ? 50 : 100
  const rates = [[50, quick ? 2000 : 8000], [1000, quick ? 1000 : 4000]]
  const out = {}
  for (const [rate] of rates) out[rate] = { publisher: [], redis: [], coalesced: { publisher: [], redis: [] }, floor: { publisher: [], redis: [] }, fanout: { publisher: [], redis: [] } }
  const idle = { publisher: [], redis: [] }
  for (let rep = 0; rep < REPS; rep++) {
    await onRedis(redis, { clients, gateways: 2 }, async ({ pub, prefix }) => {
      // What both spend per second with nothing published (timers, Redis's cron, pings).
      const i0 = redis.info()
      pub.send({ type: 'idle', durationMs: 1000 })
      const p = await pub.next('idled')
      idle.publisher.push(p.cpuMicros)
      idle.redis.push(infoDelta(i0, redis.info()).cpu * 1e6)
      for (const [rate, durationMs] of rep % 2 ? [...rates].reverse() : rates) {
        const r0 = redis.info()
        pub.send({ type: 'paced', rate, durationMs })
        const p = await pub.next('published', durationMs + 60_000)
        const r = infoDelta(r0, redis.info())
        out[rate].publisher.push(p.cpuMicros / p.count)
        out[rate].redis.push((r.cpu * 1e6) / p.count)
        log(`publish ${rate}/s rep ${rep + 1}: publisher ${fmt(out[rate].publisher.at(-1))} µs, Redis ${fmt(out[rate].redis.at(-1))} µs CPU per event`)
      }
      // The same with a publisher that coalesces, to the same gateways.
      const coalescing = spawnCase('cases/publisher.mjs', [redis.url, prefix, String(COALESCE_MS)], { execArgv: ['--expose-gc'] })
      try {
        await coalescing.next('ready')
        for (const [rate, durationMs] of rep % 2 ? [...rates].reverse() : rates) {
          const r0 = redis.info()
          coalescing.send({ type: 'paced', rate, durationMs })
          const p = await coalescing.next('published', durationMs + 60_000)
          const at = out[rate].coalesced
          at.publisher.push(p.cpuMicros / p.count)
          at.redis.push((infoDelta(r0, redis.info()).cpu * 1e6) / p.count)
          log(`publish ${rate}/s coalesceMs ${COALESCE_MS} rep ${rep + 1}: publisher ${fmt(at.publisher.at(-1))} µs, Redis ${fmt(at.redis.at(-1))} µs CPU per event`)
        }
      } finally {
        await coalescing.stop()
      }
    })
    // The floor, same run: one bare PUBLISH round trip per event at the same rates, to a
    // channel nobody subscribes to, then to one with two bare subscribers (the fan-out the
    // publish path pays for its two gateways, without the gateways' own work).
    for (const subscribers of [0, 2]) {
      const subs = subscribers ? spawnCase('cases/redis-subscribers.mjs', [redis.url, String(subscribers)]) : undefined
      const floor = spawnCase('cases/redis-floor.mjs', [redis.url], { execArgv: ['--expose-gc'] })
      try {
        await subs?.next('ready')
        await floor.next('ready')
        for (const [rate, durationMs] of rates) {
          const r0 = redis.info()
          floor.send({ type: 'paced', rate, durationMs })
          const p = await floor.next('published', durationMs + 60_000)
          const at = out[rate][subscribers ? 'fanout' : 'floor']
          at.publisher.push(p.cpuMicros / p.count)
          at.redis.push((infoDelta(r0, redis.info()).cpu * 1e6) / p.count)
        }
      } finally {
        await Promise.all([floor.stop(), subs?.stop()])
      }
    }
    log(`publish floor rep ${rep + 1}: ${rates.map(([rate]) => `${rate}/s ${fmt(out[rate].floor.publisher.at(-1))} / ${fmt(out[rate].floor.redis.at(-1))} µs, two subscribers ${fmt(out[rate].fanout.publisher.at(-1))} / ${fmt(out[rate].fanout.redis.at(-1))} µs`).join('; ')}`)
  }
  log(`publish idle: publisher ${fmt(median(idle.publisher))} µs, Redis ${fmt(median(idle.redis))} µs CPU per second with nothing published`)
  const sides = (v) => ({ publisherMicrosPerEvent: summary(v.publisher), redisMicrosPerEvent: summary(v.redis) })
  results.cases.publish = { gateways: 2, clients, idleMicrosPerSec: { publisher: summary(idle.publisher), redis: summary(idle.redis) }, rates: Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { ...sides(v), coalesced: { coalesceMs: COALESCE_MS, ...sides(v.coalesced) }, floor: sides(v.floor), floorTwoSubscribers: sides(v.fanout) }])), goal: { publisherMicrosPerEvent: 100, redisMicrosPerEvent: 60 } }
  for (const [rate] of rates) {
    const pm = median(out[rate].publisher)
    const rm = median(out[rate].redis)
    const { floor, fanout } = out[rate]
    table.push([`publish floor at ${fmt(rate)} events/s: one bare PUBLISH round trip`, `process ${row(summary(floor.publisher))} µs, Redis ${row(summary(floor.redis))} µs CPU per event`, '1.00', ''])
    table.push([`publish floor at ${fmt(rate)} events/s, two bare subscribers`, `process ${row(summary(fanout.publisher))} µs, Redis ${row(summary(fanout.redis))} µs CPU per event`, `${fmt(median(fanout.publisher) / median(floor.publisher), 2)} / ${fmt(median(fanout.redis) / median(floor.redis), 2)} of floor`, 'like for like with the path'])
    const ratio = `${fmt(pm / median(fanout.publisher), 2)} / ${fmt(rm / median(fanout.redis), 2)} of the floor with subscribers`
    table.push([`publish path at ${fmt(rate)} events/s, two gateways`, `publisher ${row(summary(out[rate].publisher))} µs, Redis ${row(summary(out[rate].redis))} µs CPU per event (idle: ${fmt(median(idle.publisher) / rate)} / ${fmt(median(idle.redis) / rate)} µs of it)`, ratio, `goal ≤ 100 / ≤ 60 µs: ${pm <= 100 ? 'met' : 'not met'} / ${rm <= 60 ? 'met' : 'not met'}`])
    const c = out[rate].coalesced
    const cpm = median(c.publisher)
    const crm = median(c.redis)
    table.push([`publish path at ${fmt(rate)} events/s, coalesceMs ${COALESCE_MS}`, `publisher ${row(summary(c.publisher))} µs, Redis ${row(summary(c.redis))} µs CPU per event`, `${fmt(cpm / median(fanout.publisher), 2)} / ${fmt(crm / median(fanout.redis), 2)} of the floor with subscribers`, `goal ≤ 100 / ≤ 60 µs: ${cpm <= 100 ? 'met' : 'not met'} / ${crm <= 60 ? 'met' : 'not met'}`])
  }
}
await redis?.stop()

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
