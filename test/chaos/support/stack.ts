import { afterEach } from 'vitest'
import { createNodeClient, type NodeClient, type NodeClientOptions } from 'agentwire/node'
import { createGateway, type Gateway, type GatewayOptions, type StoredEvent } from 'agentwire/server'
import type { Audit } from './audit'

/**
 * The catalogue's integration timings (RELIABILITY.md §3): H = 250 ms, T = 250 ms, B = 50 ms,
 * C = 1 s, on both sides, so a chaos run sees many heartbeats and retries in seconds.
 */
export const H = 250
export const T = 250
export const B = 50
export const C = 1000

export const clientTiming = {
  heartbeat: { intervalMs: H, timeoutMs: T },
  reconnect: { initialDelayMs: B, maxDelayMs: C, stableAfterMs: 500 },
  connectTimeoutMs: 1000,
  requestTimeoutMs: 5000,
} satisfies Partial<NodeClientOptions>

export const gatewayHeartbeat = { intervalMs: H, timeoutMs: T }

/** Closes what a test opened, newest first, after each test of the file that calls it. */
export function cleanup(): (close: () => unknown) => void {
  const closers: Array<() => unknown> = []
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) {
      try {
        await close()
      } catch {
        // Already closed by the test.
      }
    }
  })
  return (close) => void closers.push(close)
}

/** A gateway on 127.0.0.1 (port 0 unless given) with the catalogue's heartbeat. */
export async function gatewayOn(options: GatewayOptions = {}): Promise<Gateway> {
  const gateway = createGateway({ port: 0, host: '127.0.0.1', heartbeat: gatewayHeartbeat, ...options })
  await gateway.ready
  return gateway
}

/** A Node client with the catalogue's timings, no browser environment, not connected yet. */
export function chaosClient(url: string, options: Partial<NodeClientOptions> = {}): NodeClient {
  return createNodeClient({ url, environment: null, autoConnect: false, ...clientTiming, ...options })
}

/** Every state change of a client with its time, for detection and reconnect measurements. */
export function stateLog(client: NodeClient): Array<{ t: number; from: string; to: string; code?: number }> {
  const log: Array<{ t: number; from: string; to: string; code?: number }> = []
  client.on('state', (change) => {
    log.push({ t: Date.now(), from: change.previous, to: change.current, ...(change.reason?.code === undefined ? {} : { code: change.reason.code }) })
  })
  return log
}

/** Lets I/O run between publishing bursts. */
export const yieldIo = () => new Promise<void>((resolve) => setImmediate(resolve))

/**
 * Publishes `perTick` events on each channel every `everyMs` (up to `limit` in all) and records
 * each stored event in the audits of its channel. `stop()` waits for the last burst and throws
 * the first publish error seen while running; errors after a stop are ignored.
 */
export function ticker(
  channels: readonly string[],
  publish: (channel: string, i: number) => Promise<StoredEvent>,
  auditsOf: (channel: string) => ReadonlyArray<Pick<Audit, 'published'>>,
  everyMs: number,
  perTick: number,
  limit = Infinity,
): { stop(): Promise<void>; count(): number } {
  let i = 0
  let stopped = false
  let failure: unknown
  let chain = Promise.resolve()
  const timer = setInterval(() => {
    if (stopped || i >= limit) return
    chain = chain
      .then(async () => {
        const batch: Array<Promise<StoredEvent>> = []
        for (let k = 0; k < perTick && i < limit; k++) for (const channel of channels) batch.push(publish(channel, i++))
        for (const e of await Promise.all(batch)) {
          for (const audit of auditsOf(e.channel)) audit.published({ channel: e.channel, epoch: e.epoch, seq: e.seq, stamp: (e.event.payload as { load: number }).load })
        }
      })
      .catch((error: unknown) => {
        if (!stopped) failure ??= error
      })
  }, everyMs)
  return {
    async stop() {
      stopped = true
      clearInterval(timer)
      await chain
      if (failure) throw failure
    },
    count: () => i,
  }
}
