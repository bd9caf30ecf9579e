#!/usr/bin/env node
// Where the publish path's time goes, on both sides: the publish case's set-up (a Redis of its
// own, two gateways with clients subscribed to `global`, a publisher process), then per rate
// Redis's INFO commandstats per event (calls and µs of each command, those inside the script
// included) and both processes' CPU per event; with --prof, a --cpu-prof of the publisher
// summarised as self time by function.
// node bench/profile-publish.mjs [--rates=50,1000] [--ms=4000] [--clients=20] [--coalesce=0 (the publisher's coalesceMs)] [--prof] [--dir=/tmp/agentwire-prof] [--top=30]
import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { infoDelta, spawnCase, startRedis } from './lib.mjs'

const arg = (name, fallback) => process.argv.slice(2).find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback
const rates = arg('rates', '50,1000').split(',').map(Number)
const durationMs = Number(arg('ms', '4000'))
const clients = Number(arg('clients', '20'))
const prof = process.argv.includes('--prof')
const coalesceMs = arg('coalesce', '0')
const dir = arg('dir', '/tmp/agentwire-prof')
const top = Number(arg('top', '30'))

const redis = await startRedis()
if (!redis) throw new Error('no redis-server on PATH')
const cli = (...args) => spawnSync('redis-cli', ['-p', String(redis.port), ...args], { encoding: 'utf8' }).stdout
/** cmdstat_<name>: calls, usec (Redis's own time in the command, script inner calls counted too). */
const commandstats = () => {
  const out = {}
  for (const m of cli('INFO', 'commandstats').matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) out[m[1]] = { calls: Number(m[2]), usec: Number(m[3]) }
  return out
}

const prefix = `bench-${randomUUID().slice(0, 8)}`
const gateways = [0, 1].map(() => spawnCase('cases/fanout-server.mjs', ['redis', prefix, redis.url]))
mkdirSync(dir, { recursive: true })
const before = new Set(readdirSync(dir))
try {
  const ports = []
  for (const g of gateways) ports.push((await g.next('listening')).port)
  const cl = spawnCase('cases/fanout-clients.mjs', ['raw', ports.join(','), String(clients)])
  const pub = spawnCase('cases/publisher.mjs', [redis.url, prefix, coalesceMs], { execArgv: ['--expose-gc', ...(prof ? ['--cpu-prof', '--cpu-prof-interval=50', `--cpu-prof-dir=${dir}`] : [])] })
  try {
    await cl.next('ready', 180_000)
    await pub.next('ready')
    for (const rate of rates) {
      cli('CONFIG', 'RESETSTAT')
      const r0 = redis.info()
      pub.send({ type: 'paced', rate, durationMs })
      const p = await pub.next('published', durationMs + 60_000)
      const r = infoDelta(r0, redis.info())
      const stats = commandstats()
      const n = p.count
      console.log(`\n${rate}/s, ${n} events: publisher ${(p.cpuMicros / n).toFixed(0)} µs, Redis ${((r.cpu * 1e6) / n).toFixed(1)} µs CPU per event; ${(r.commands / n).toFixed(2)} commands, ${(r.bytesIn / n).toFixed(0)} B in, ${(r.bytesOut / n).toFixed(0)} B out per event`)
      console.log('  command        calls/event  µs/event  µs/call')
      let inside = 0
      for (const [name, s] of Object.entries(stats).sort((a, b) => b[1].usec - a[1].usec)) {
        if (name === 'config' || name === 'info') continue
        if (!name.startsWith('eval')) inside += s.usec
        console.log(`  ${name.padEnd(14)} ${(s.calls / n).toFixed(2).padStart(11)}  ${(s.usec / n).toFixed(1).padStart(8)}  ${(s.usec / s.calls).toFixed(1).padStart(7)}`)
      }
      const evals = Object.entries(stats).filter(([k]) => k.startsWith('eval')).reduce((a, [, s]) => a + s.usec, 0)
      console.log(`  script total ${(evals / n).toFixed(1)} µs/event, of which commands inside ${(inside / n).toFixed(1)}, Lua and argument handling ${((evals - inside) / n).toFixed(1)}; the rest of Redis's CPU (I/O, event loop, fan-out writes) ${((r.cpu * 1e6 - evals) / n).toFixed(1)}`)
    }
  } finally {
    // Let --cpu-prof write its file on a normal exit.
    pub.child.kill('SIGTERM')
    await Promise.race([new Promise((r) => pub.child.once('exit', r)), new Promise((r) => setTimeout(r, 5000))])
    await Promise.all([cl.stop(), pub.stop()])
  }
} finally {
  await Promise.all(gateways.map((g) => g.stop()))
  await redis.stop()
}

if (prof) {
  const file = readdirSync(dir).filter((f) => !before.has(f) && f.endsWith('.cpuprofile')).map((f) => join(dir, f)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0]
  if (file) summarise(file)
}

/**
 * Self time by function (name, file:line) from the profile's samples, from the first paced
 * publish on (start-up and warm-up left out), idle excluded; then inclusive time of the steps
 * of a publish, per event.
 */
function summarise(file) {
  const profile = JSON.parse(readFileSync(file, 'utf8'))
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map()
  for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node.id)
  const stackOf = (id) => {
    const names = []
    for (let n = id; n !== undefined; n = parent.get(n)) names.push(byId.get(n).callFrame.functionName)
    return names
  }
  const self = new Map()
  const inclusive = new Map()
  const steps = ['publish', 'sanitizeValue', 'validate', 'addCommand', 'encodeCommand', 'createAbortSignal', 'abortSignal', '#removeTimeoutListener', 'write', 'setImmediate', 'processImmediate', 'trace', 'resolve', 'appendBatch', 'reduce', 'storeText', 'stringify', 'checkEvent', 'parseChannel', 'sendCommand', 'run', 'listOnTimeout', 'processTicksAndRejections', 'onStreamRead', 'writeUtf8String', 'writev', 'writeGeneric', 'writevGeneric', '(garbage collector)']
  const deltas = profile.timeDeltas
  let started = false
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]
    const stack = stackOf(id)
    if (!started && !stack.includes('step')) continue
    started = true
    const { functionName, url, lineNumber } = byId.get(id).callFrame
    if (functionName === '(idle)') continue
    const key = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`
    self.set(key, (self.get(key) ?? 0) + (deltas[i] ?? 0))
    for (const name of new Set(stack)) if (steps.includes(name)) inclusive.set(name, (inclusive.get(name) ?? 0) + (deltas[i] ?? 0))
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  const events = rates.reduce((a, rate) => a + Math.round((rate * durationMs) / 1000), 0)
  console.log(`\n${file}: ${(total / 1000).toFixed(0)} ms sampled from the first paced publish on, not idle: ${(total / events).toFixed(0)} µs per event`)
  for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / events).toFixed(1).padStart(7)} µs/event  ${key}`)
  console.log('inclusive, µs per event:')
  for (const [name, us] of [...inclusive].sort((a, b) => b[1] - a[1])) console.log(`  ${(us / events).toFixed(1).padStart(7)}  ${name}`)
}
