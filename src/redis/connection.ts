import type { createClient } from 'redis'

/**
 * A connection to Redis as agentwire opens it: reconnect backoff, liveness (heartbeat), and a
 * close that never hangs. Shared by the broker, the publisher and the ingester.
 */

/** A connected node-redis client (any modules). */
export type RedisClient = ReturnType<typeof createClient>

/** How long to wait between reconnect attempts to Redis. */
export interface RedisReconnectOptions {
  /** Lower bound of every delay. @default 50 */
  initialDelayMs?: number
  /** Upper bound of every delay: the S3 promise is "resubscribed within 1 s of Redis coming back". @default 1000 */
  maxDelayMs?: number
}

/**
 * Liveness of a Redis connection. TCP alone does not notice a link that went silent without
 * closing (a NAT or firewall that dropped its state, a half-open connection, a black hole): its
 * keepalive gives up after hours. So each connection sends a PING every `intervalMs`, and one on
 * which nothing has moved for `intervalMs + timeoutMs` is dropped and reconnected.
 */
export interface RedisHeartbeatOptions {
  /** A PING this often on each connection (after the previous one was answered). @default 5000 */
  intervalMs?: number
  /** How much longer than `intervalMs` a connection may stay silent before it is dropped. @default 5000 */
  timeoutMs?: number
}

/** Full-jitter backoff in [initial, min(max, initial·2^n)], exponent capped so it never overflows. */
export function reconnectDelay(attempt: number, options: RedisReconnectOptions = {}, random: () => number = Math.random): number {
  const initial = Math.max(1, options.initialDelayMs ?? 50)
  const max = Math.max(initial, options.maxDelayMs ?? 1000)
  const ceiling = Math.min(max, initial * 2 ** Math.min(Math.max(0, attempt), 31))
  return Math.round(initial + random() * (ceiling - initial))
}

/**
 * node-redis options shared by every connection agentwire opens. `heartbeat` (on unless
 * `false`) is node-redis's `pingInterval` plus a `socketTimeout` of interval + timeout: a PING
 * written counts as movement too, so a link is dropped between `interval + timeout` and
 * `2 × interval + timeout` after the last byte it received, and that is also how long a command
 * may wait for its reply (no per-command timer of node-redis's on top).
 */
export function connectionOptions(url: string, reconnect: RedisReconnectOptions | undefined, offlineQueue: boolean, heartbeat?: RedisHeartbeatOptions | false) {
  const beat = heartbeat === false ? undefined : { intervalMs: Math.max(1, heartbeat?.intervalMs ?? 5000), timeoutMs: Math.max(1, heartbeat?.timeoutMs ?? 5000) }
  return {
    url,
    // Commands while disconnected fail at once (the caller decides), except on the
    // subscriber connection, whose SUBSCRIBEs should simply happen once Redis is back.
    disableOfflineQueue: !offlineQueue,
    // node-redis arms a timer and an AbortSignal per command (5 s by default), a good part of
    // what a publish costs the process. With the heartbeat on it adds nothing: a command waits
    // at most until the silent link is dropped, and is then rejected. Without the heartbeat
    // the per-command timeout stays.
    ...(beat ? { pingInterval: beat.intervalMs, commandOptions: { timeout: 0 } } : {}),
    socket: {
      // An attempt that timed out (connected, then no answer: a black hole, a stalled Redis)
      // has already waited its socket timeout: the next one starts after the shortest delay,
      // so the link is back soon after the path heals instead of one more backoff later.
      reconnectStrategy: (retries: number, cause?: unknown) => (isSocketTimeout(cause) ? reconnectDelay(0, reconnect) : reconnectDelay(retries, reconnect)),
      keepAlive: true,
      ...(beat ? { socketTimeout: beat.intervalMs + beat.timeoutMs } : {}),
    },
  }
}

/** node-redis's SocketTimeoutError (by name: the class is not part of its public exports in every version). */
function isSocketTimeout(error: unknown): boolean {
  return error instanceof Error && error.constructor.name === 'SocketTimeoutError'
}

/** Closes a client without hanging on a dead connection. */
export async function closeClient(client: RedisClient): Promise<void> {
  if (!client.isOpen) return
  if (!client.isReady) {
    client.destroy()
    return
  }
  try {
    await client.close()
  } catch {
    client.destroy()
  }
}
