// Receives N events and reports the rate from the first event to the last.
// argv: mode (raw | agentwire | socketio), port, n
import { report } from '../lib.mjs'

const [mode, port, nArg] = process.argv.slice(2)
const n = Number(nArg)
let count = 0
let first = 0

function done() {
  const ms = performance.now() - first
  report({ type: 'result', n: count, ms, rate: (count / ms) * 1000, rss: process.memoryUsage().rss })
  setTimeout(() => process.exit(0), 10)
}
const tick = () => {
  if (count === 0) first = performance.now()
  if (++count === n) done()
}

if (mode === 'raw') {
  const { WebSocket } = await import('ws')
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { perMessageDeflate: false })
  ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', v: 1 })))
  ws.on('message', (data) => {
    const f = JSON.parse(String(data))
    if (f.type === 'event') tick()
  })
} else if (mode === 'agentwire') {
  const { createNodeClient } = await import('agentwire/node')
  const client = createNodeClient({ url: `ws://127.0.0.1:${port}/ws`, heartbeat: { intervalMs: 60_000 } })
  client.subscribe('*')
  // Full path: decode and validate, dedupe by position, store, typed dispatch.
  client.on('agent.status', tick)
  client.on('task.progress', tick)
  client.on('step.progress', tick)
  client.on('routing.decision', tick)
  client.on('metrics.snapshot', tick)
  client.on('error', (e) => report({ type: 'error', message: String(e?.message ?? e) }))
} else {
  const { io } = await import('socket.io-client')
  const socket = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false })
  socket.on('connect', () => socket.emit('go'))
  socket.on('event', tick)
}
