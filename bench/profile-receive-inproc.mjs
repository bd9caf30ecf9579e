#!/usr/bin/env node
// In-process cost of each stage of the receive path over the receive benchmark's frames, in
// ns per frame (CPU time, best of several rounds): JSON.parse alone, the codec's decode, and
// the whole client fed through a synchronous in-memory transport (decode, positions, store,
// dispatch to five handlers). No socket: what is left is the client's own work.
// node --expose-gc bench/profile-receive-inproc.mjs [--n=200000] [--rounds=5] [--client-only]
import { createClient } from 'agentwire'
import { createClientCodec, dialects } from 'agentwire/protocol'
import { eventFrames, memoryTransport } from './lib.mjs'

const arg = (name, fallback) => process.argv.slice(2).find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback
const n = Number(arg('n', '200000'))
const rounds = Number(arg('rounds', '5'))
const { frames, channels } = eventFrames(n)
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) * 1000 }

function time(name, fn) {
  let best = Infinity
  for (let r = 0; r < rounds; r++) {
    globalThis.gc?.()
    const t = cpu()
    fn()
    best = Math.min(best, cpu() - t)
  }
  console.log(`${name.padEnd(28)} ${(best / n).toFixed(0).padStart(6)} ns/frame`)
  return best / n
}

let sink = 0
// --client-only: just the client, e.g. under --cpu-prof.
if (!process.argv.includes('--client-only')) {
  time('JSON.parse', () => { for (const f of frames) sink += JSON.parse(f).seq })
  // What createClient decodes with (the generated specs), and the zod-validated codec beside it.
  const codec = createClientCodec()
  time('codec.decode', () => { for (const f of frames) sink += codec.decode(f).messages.length })
  const zodCodec = dialects.agentwire
  time('codec.decode (zod codec)', () => { for (const f of frames) sink += zodCodec.decode(f).messages.length })
}

function clientRun() {
  // Positions start here: one empty snapshot per channel after the welcome, then the events.
  const { transport, handlers } = memoryTransport(() => channels.map((channel) => JSON.stringify({ type: 'state', channel, epoch: 'bench', seq: 0, reason: 'initial', state: {} })))
  const client = createClient({ url: 'ws://memory/ws', transport, heartbeat: { intervalMs: 60_000 }, environment: null })
  client.subscribe('*')
  let count = 0
  const tick = () => void count++
  for (const t of ['agent.status', 'task.progress', 'step.progress', 'routing.decision', 'metrics.snapshot']) client.on(t, tick)
  return { client, feed: handlers, count: () => count }
}

const runs = []
for (let r = 0; r < rounds; r++) {
  const c = clientRun()
  await new Promise((r) => setTimeout(r, 10))
  runs.push(c)
}
let i = 0
time('client (full path)', () => {
  const c = runs[i++]
  const h = c.feed()
  for (const f of frames) h.onFrame(f)
  if (c.count() !== n) throw new Error(`delivered ${c.count()} of ${n}`)
})
for (const c of runs) c.client.close()
if (sink === 0.5) console.log(sink)
