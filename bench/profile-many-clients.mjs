#!/usr/bin/env node
// The latency case's client side without sockets: N full clients in one process (an in-memory
// transport each, subscribed to `global`, one `metrics.snapshot` handler), fed one event frame
// per client per round, round-robin, so each delivery finds that client's objects cold as in
// the 1,000-client process. Prints the CPU per delivery, median and 10th percentile over the rounds.
// node bench/profile-many-clients.mjs [clients=1000] [rounds=600]
import { createClient } from 'agentwire'
import { memoryTransport } from './lib.mjs'

const N = Number(process.argv[2] ?? 1000)
const rounds = Number(process.argv[3] ?? 600)
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
process.exit(0)
