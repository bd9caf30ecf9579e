// The floor under the publish path: one PUBLISH of an event-sized message per event over a
// bare socket, awaiting each reply (no client library, no script, no log). What a process and
// Redis spend on this is the least any Redis publish can cost at the same rate on this machine.
// argv: redisUrl. Same messages as publisher.mjs (paced → published), and the same full GC
// before each window when run with --expose-gc.
import { createConnection } from 'node:net'
import { cpuMicros, onParent, report, wallNow } from '../lib.mjs'
/** A full GC, then a moment for V8's background threads to finish sweeping, before a measured window. */
const settle = async () => {
  if (!globalThis.gc) return
  globalThis.gc()
  await new Promise((r) => setTimeout(r, 200))
}

const url = new URL(process.argv[2])
const socket = createConnection(Number(url.port), url.hostname)
await new Promise((r) => socket.once('connect', r))
let waiting
socket.on('data', () => waiting?.())
const command = (text) => `*3\r\n$7\r\nPUBLISH\r\n$11\r\nbench:floor\r\n$${Buffer.byteLength(text)}\r\n${text}\r\n`
const send = (i) =>
  new Promise((resolve) => {
    waiting = resolve
    const event = { type: 'metrics.snapshot', payload: { scope: 'custom', name: 'bench', values: { i, t: wallNow() } } }
    socket.write(command(`global\nepoch\n${i}\n${Date.now()}\n${JSON.stringify(event)}`))
  })
for (let i = 0; i < 20; i++) await send(i)
report({ type: 'ready' })

onParent({
  paced: async ({ rate, durationMs }) => {
    await settle()
    const cpu0 = cpuMicros()
    const start = performance.now()
    const total = Math.round((rate * durationMs) / 1000)
    for (let i = 0; i < total; i++) {
      await send(i)
      const wait = ((i + 1) * 1000) / rate - (performance.now() - start)
      if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    }
    report({ type: 'published', count: total, cpuMicros: cpuMicros() - cpu0, ms: performance.now() - start })
  },
})
process.on('SIGTERM', () => (socket.destroy(), process.exit(0)))
