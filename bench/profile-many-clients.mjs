#!/usr/bin/env node
// The latency case's client side without sockets: N full clients in one process (an in-memory
// transport each, subscribed to `global`, one `metrics.snapshot` handler), fed one event frame
// per client per round, round-robin, so each delivery finds that client's objects cold as in
// the 1,000-client process. Prints the CPU per delivery, median and 10th percentile over the rounds.
// Then the bytes allocated per delivery beside those of `JSON.parse` of the same frames alone:
// the growth of the heap over 10 rounds each, run in a child with a young generation too big to
// be collected meanwhile (it says so if a collection ran anyway).
// node bench/profile-many-clients.mjs [clients=1000] [rounds=600]
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { PerformanceObserver } from 'node:perf_hooks'
import { createClient } from 'agentwire'
import { memoryTransport } from './lib.mjs'

const ALLOC = process.argv.includes('--alloc-child')
const args = process.argv.slice(2).filter((a) => !a.startsWith('--'))
const N = Number(args[0] ?? 1000)
const rounds = ALLOC ? 25 : Number(args[1] ?? 600)
const cpu = () => {
  const u = process.cpuUsage()
  return u.user + u.system
}
const feeds = []
let count = 0
for (let i = 0; i < N; i++) {
  const { transport, handlers } = memoryTransport()
  const client = createClient({ url: 'ws://memory/ws', transport, heartbeat: { intervalMs: 600_000 }, environment: null })
  client.subscribe('global')
  client.on('metrics.snapshot', (e) => void (count += e.payload.values.i >= 0 ? 1 : 0))
  feeds.push(handlers)
}
await new Promise((r) => setTimeout(r, 50))
const handlers = feeds.map((f) => f())
const frame = (i) => `{"type":"event","channel":"global","epoch":"e1","seq":${i + 1},"time":${Date.now()},"event":{"type":"metrics.snapshot","payload":{"scope":"custom","name":"bench","values":{"i":${i},"t":${Date.now()}}}}}`
if (ALLOC) {
  // Frames made first, so the strings are not counted; the rounds parsed alone have positions of
  // their own, so the client's positions stay without a gap.
  const texts = (from, count) => Array.from({ length: count }, (_, r) => { const t = frame(from + r); return handlers.map(() => `${t} `.trimEnd()) })
  const warm = texts(0, 5)
  const delivered = texts(5, 10)
  const parsed = texts(1000, 10)
  for (const round of warm) handlers.forEach((h, i) => h.onFrame(round[i]))
  let collections = 0
  let from = Infinity
  new PerformanceObserver((list) => void (collections += list.getEntries().filter((e) => e.startTime >= from).length)).observe({ entryTypes: ['gc'] })
  globalThis.gc()
  await new Promise((r) => setImmediate(r))
  from = performance.now()
  let sink = 0
  const heap = () => process.memoryUsage().heapUsed
  const h0 = heap()
  for (const round of parsed) for (const text of round) sink += JSON.parse(text).seq
  const h1 = heap()
  for (const round of delivered) handlers.forEach((h, i) => h.onFrame(round[i]))
  const h2 = heap()
  await new Promise((r) => setTimeout(r, 20))
  if (count !== N * 15 || sink === 0) throw new Error(`delivered ${count} of ${N * 15}`)
  const per = (bytes) => Math.round(bytes / (10 * N))
  console.log(`allocated per delivery: ${per(h2 - h1)} B; JSON.parse of the frame alone: ${per(h1 - h0)} B${collections ? ` (${collections} collections ran: not exact)` : ''}`)
  process.exit(0)
}
const perDelivery = []
for (let r = 0; r < rounds; r++) {
  const text = frame(r)
  const t = cpu()
  // A string of its own per client, as each socket gives its client.
  for (const h of handlers) h.onFrame(`${text} `.trimEnd())
  perDelivery.push((cpu() - t) / N)
  await new Promise((resolve) => setImmediate(resolve))
}
if (count !== N * rounds) throw new Error(`delivered ${count} of ${N * rounds}`)
perDelivery.sort((a, b) => a - b)
console.log(`${N} clients, ${rounds} rounds: ${perDelivery[rounds >> 1].toFixed(2)} µs CPU per delivery (median), ${perDelivery[Math.floor(rounds / 10)].toFixed(2)} (p10)`)
const child = spawnSync(process.execPath, ['--expose-gc', '--min-semi-space-size=256', '--max-semi-space-size=256', fileURLToPath(import.meta.url), String(N), '--alloc-child'], { encoding: 'utf8' })
process.stdout.write(child.stdout + child.stderr)
process.exit(0)
