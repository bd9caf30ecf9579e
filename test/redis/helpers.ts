import { randomBytes } from 'node:crypto'
import { createClient } from 'redis'
import type { AgentEvent, StoredEvent } from './types'

export type { AgentEvent, StoredEvent }

/** The shared Redis every engineer's tests use: only keys under a test's own prefix are touched. */
export const REDIS_URL = process.env.AGENTWIRE_REDIS_URL ?? 'redis://127.0.0.1:6379'

/** A prefix no other test uses, e.g. `awtest:3fa9c1d2`. */
export function uniquePrefix(label = 't'): string {
  return `awtest:${label}:${randomBytes(5).toString('hex')}`
}

/** A plain node-redis client for poking at Redis from the test side (a seed backend, a fault). */
export async function rawClient(url = REDIS_URL) {
  const client = createClient({ url })
  client.on('error', () => undefined)
  await client.connect()
  return client
}

/** Deletes every key under `prefix` (SCAN, never KEYS or FLUSHALL). */
export async function deletePrefix(prefix: string, url = REDIS_URL): Promise<number> {
  const client = await rawClient(url)
  let deleted = 0
  try {
    let cursor = '0'
    do {
      const [next, keys] = (await client.sendCommand(['SCAN', cursor, 'MATCH', `${prefix}:*`, 'COUNT', '1000'])) as [string, string[]]
      cursor = next
      if (keys.length > 0) deleted += Number(await client.sendCommand(['DEL', ...keys]))
    } while (cursor !== '0')
  } finally {
    await client.close()
  }
  return deleted
}

/** Resolves when `predicate` holds, checking after each `poke()`; rejects after `timeoutMs` with what was seen. */
export function waitFor(predicate: () => boolean, describe: () => string, timeoutMs = 20_000): { poke(): void; done: Promise<void> } {
  let resolve!: () => void
  let reject!: (e: Error) => void
  const done = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms: ${describe()}`)), timeoutMs)
  const poke = () => {
    if (predicate()) {
      clearTimeout(timer)
      resolve()
    }
  }
  poke()
  return { poke, done }
}

/** A canonical event stamped with its publish index, so an audit can compare lists. */
export function statusEvent(name: string, i: number): AgentEvent {
  return { type: 'agent.status', payload: { name, status: i % 3 === 0 ? 'available' : i % 3 === 1 ? 'busy' : 'offline', load: i } }
}
