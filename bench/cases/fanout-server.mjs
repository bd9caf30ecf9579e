// A gateway (agentwire, or a raw `ws` broadcast server) that publishes on command.
// argv: mode (agentwire | raw | redis), [redisPrefix], [redisUrl]
import { createServer } from 'node:http'
import { WebSocketServer } from 'ws'
import { cpuMicros, onParent, report, settledMemory, wallNow } from '../lib.mjs'

const [mode, prefix, redisUrl = 'redis://127.0.0.1:6379'] = process.argv.slice(2)
const gc = globalThis.gc ?? (() => {})
const rss = () => (gc(), gc(), process.memoryUsage().rss)
const event = (i, stamp) => ({ type: 'metrics.snapshot', payload: { scope: 'custom', name: 'bench', values: { i, t: stamp } } })
const UNLIMITED = { maxConnectionsPerPrincipal: 1e9, maxPendingHandshakes: 1e9, maxBufferedBytes: 64 << 20, maxQueuedFrames: 1e9 }

let publish
let port
let subscriptions = () => NaN
const baseline = rss()
if (mode === 'raw') {
  // The naive broadcast every ws tutorial shows: one JSON text per event, sent to every client.
  const http = createServer()
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false })
  let seq = 0
  wss.on('connection', (ws) => ws.once('message', () => ws.send(JSON.stringify({ type: 'welcome', v: 1, session: 's', heartbeatMs: 0 }))))
  publish = (i, stamp) => {
    const text = JSON.stringify({ type: 'event', channel: 'global', epoch: 'raw', seq: ++seq, event: event(i, stamp) })
    for (const ws of wss.clients) ws.send(text)
  }
  await new Promise((r) => http.listen(0, '127.0.0.1', r))
  port = http.address().port
} else {
  const { createGateway, memoryBroker } = await import('agentwire/server')
  const { redisBroker } = mode === 'redis' ? await import('agentwire/redis') : {}
  const broker = mode === 'redis' ? redisBroker({ url: redisUrl, prefix }) : memoryBroker()
  const gateway = createGateway({ port: 0, broker, limits: UNLIMITED, heartbeat: { intervalMs: 600_000 } })
  await gateway.ready
  port = gateway.port
  subscriptions = () => gateway.stats().subscriptions.total
  publish = (i, stamp) => gateway.publish('global', event(i, stamp))
  process.on('SIGTERM', () => void gateway.close({ drainMs: 0 }).finally(() => process.exit(0)))
}
report({ type: 'listening', port })

onParent({
  rss: () => report({ type: 'rss', rss: rss(), baseline }),
  // After GC: RSS and heap, for the marginal cost of a connection (memory case).
  mem: async () => report({ type: 'mem', ...(await settledMemory()), subscriptions: subscriptions() }),
  cpu: () => report({ type: 'cpu', micros: cpuMicros() }),
  // As fast as possible: publish in bursts, yielding so sockets can drain.
  burst: async ({ m }) => {
    for (let i = 0; i < m; i++) {
      const p = publish(i, wallNow())
      if (i % 50 === 49) await (p ?? Promise.resolve()), await new Promise((r) => setImmediate(r))
    }
    report({ type: 'published' })
  },
  // Paced: one event every `everyMs` for `durationMs`, stamped for latency.
  paced: async ({ everyMs, durationMs }) => {
    const start = wallNow()
    let i = 0
    const step = () => {
      const now = wallNow()
      const due = Math.floor((now - start) / everyMs)
      while (i <= due && now - start < durationMs) publish(i++, wallNow())
      if (now - start < durationMs) setTimeout(step, Math.max(0, everyMs / 2))
      else report({ type: 'published', count: i })
    }
    step()
  },
})
process.on('SIGTERM', () => process.exit(0))
