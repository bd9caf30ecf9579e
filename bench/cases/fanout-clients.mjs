// N idle clients on channel `global`, spread over one or more gateways; counts deliveries.
// argv: kind (raw | agentwire), ports (comma-separated), n
// kind raw: raw `ws` sockets speaking the native hello; agentwire: full agentwire Node clients.
import { WebSocket } from 'ws'
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'
import { cpuMicros, onParent, percentile, report, wallNow } from '../lib.mjs'

const [kind, portsArg, nArg] = process.argv.slice(2)
const ports = portsArg.split(',').map(Number)
const n = Number(nArg)
let expected = Infinity
let count = 0
let first = 0
let latencies = []
let recordLatency = false
/** While latencies are recorded: this process's CPU and event-loop delay, to tell where the tail comes from. */
let window = null
// Garbage collection while the window is open: its pauses are part of the client process's time.
let gcMs = 0
new PerformanceObserver((list) => {
  if (window) for (const e of list.getEntries()) gcMs += e.duration
}).observe({ entryTypes: ['gc'] })

const onEvent = (stamp) => {
  if (count === 0) first = performance.now()
  count++
  if (recordLatency) latencies.push(wallNow() - stamp)
  if (count === expected) report({ type: 'received', count, ms: performance.now() - first })
}

const sockets = []
let ready = 0
const onReady = () => {
  if (++ready === n) report({ type: 'ready' })
}

if (kind === 'agentwire') {
  const { createNodeClient } = await import('agentwire/node')
  for (let i = 0; i < n; i++) {
    const client = createNodeClient({ url: `ws://127.0.0.1:${ports[i % ports.length]}/ws`, heartbeat: { intervalMs: 600_000 }, reconnect: { initialDelayMs: 50, maxDelayMs: 1000 } })
    const sub = client.subscribe('global')
    sub.ready.then(onReady, (e) => report({ type: 'error', message: String(e) }))
    client.on('metrics.snapshot', (e) => onEvent(e.payload.values.t))
    sockets.push(client)
  }
} else {
  for (let i = 0; i < n; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${ports[i % ports.length]}/ws`, { perMessageDeflate: false })
    ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', v: 1, resume: [{ channel: 'global' }] })))
    ws.on('message', (data) => {
      const text = String(data)
      if (text.charCodeAt(9) === 101 /* "event" */ && text.startsWith('{"type":"event"')) {
        const f = JSON.parse(text)
        onEvent(f.event.payload.values.t)
      } else if (text.startsWith('{"type":"welcome"')) onReady()
    })
    ws.on('error', (e) => report({ type: 'error', message: String(e) }))
    sockets.push(ws)
  }
}

onParent({
  expect: ({ total, latency }) => {
    expected = total
    count = 0
    latencies = []
    recordLatency = Boolean(latency)
    if (latency) {
      const loop = monitorEventLoopDelay({ resolution: 5 })
      loop.enable()
      gcMs = 0
      window = { loop, cpu0: cpuMicros(), t0: performance.now() }
    }
    report({ type: 'armed' })
  },
  latencies: () => {
    // This process's CPU and GC while events flowed, taken before the sort below (which is the
    // measurement's own work), over the deliveries it handled. CPU per delivery is meaningful
    // while the process keeps up; run.mjs measures it at a lower rate.
    const cpu = window ? cpuMicros() - window.cpu0 : 0
    const wall = window ? performance.now() - window.t0 : 0
    const got = Math.max(1, latencies.length)
    const process = window ? { cpuShare: cpu / (wall * 1000), cpuMicrosPerDelivery: cpu / got, gcMicrosPerDelivery: (gcMs * 1000) / got, loopDelayP99Ms: window.loop.percentile(99) / 1e6 } : {}
    const s = latencies.sort((a, b) => a - b)
    window?.loop.disable()
    report({ type: 'latencies', count: s.length, p50: percentile(s, 50), p99: percentile(s, 99), max: s[s.length - 1], ...process })
  },
})
process.on('SIGTERM', () => process.exit(0))
