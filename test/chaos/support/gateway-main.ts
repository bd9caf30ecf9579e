/**
 * A gateway in its own process, for the chaos runs that kill it (S1, S2) or measure it alone
 * (L1, L4, L6). Started by `forkGateway()` with its settings in AGENTWIRE_CHAOS_GATEWAY (JSON).
 * It says `{ type: 'ready', port }` over IPC once listening, answers `{ type: 'probe' }` with
 * its stats, heap after a forced GC and active handles, and drains on SIGTERM (1012 to every
 * client, then exit).
 */
import { createGateway } from 'agentwire/server'
import { redisBroker } from 'agentwire/redis'

interface Settings {
  port: number
  redisUrl: string
  prefix: string
  retentionSize: number
  heartbeat: { intervalMs: number; timeoutMs: number }
  drainMs: number
  /** The reconnect window the drain's 1012s ask for; the gateway's default when absent. */
  reconnectWindowMs?: number
  limits?: Record<string, unknown>
}

const settings = JSON.parse(process.env.AGENTWIRE_CHAOS_GATEWAY ?? '{}') as Settings
const broker = redisBroker({ url: settings.redisUrl, prefix: settings.prefix, retention: { size: settings.retentionSize, maxAgeMs: 600_000 }, onError: () => undefined })
const gateway = createGateway({ port: settings.port, host: '127.0.0.1', broker, heartbeat: settings.heartbeat, ...(settings.limits ? { limits: settings.limits } : {}) })

const send = (message: unknown) => process.send?.(message)

gateway.ready.then(
  () => send({ type: 'ready', port: gateway.port }),
  (error: Error) => {
    send({ type: 'failed', message: error.message })
    process.exit(1)
  },
)

process.on('message', (message: { type: string; id: number }) => {
  if (message.type !== 'probe') return
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  gc?.()
  send({
    type: 'probe',
    id: message.id,
    stats: gateway.stats(),
    heapUsed: process.memoryUsage().heapUsed,
    rss: process.memoryUsage().rss,
    handles: process.getActiveResourcesInfo().filter((r) => r !== 'Timeout' && r !== 'Immediate').length,
  })
})

let stopping = false
process.on('SIGTERM', () => {
  if (stopping) return
  stopping = true
  void gateway
    .close({ drainMs: settings.drainMs, reconnectWindowMs: settings.reconnectWindowMs })
    .then(() => broker.close())
    .finally(() => process.exit(0))
})
process.on('disconnect', () => process.exit(0))
