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

/** What one broker listener saw, in order, per channel: events and resyncs. */
export interface Recorder {
  readonly listener: { event(e: StoredEvent): void; resync(channel: string, reason: 'epoch' | 'gap'): void }
  readonly log: Array<{ kind: 'event'; e: StoredEvent } | { kind: 'resync'; channel: string; reason: 'epoch' | 'gap' }>
  events(channel?: string): StoredEvent[]
  resyncs(channel?: string): Array<'epoch' | 'gap'>
  /** Tier A/B audit: every seq jump or epoch change must follow a resync; no duplicates, no reordering. */
  audit(): { silentGaps: string[]; duplicates: string[] }
  onChange(fn: () => void): void
}

export function recorder(): Recorder {
  const log: Recorder['log'] = []
  const watchers: Array<() => void> = []
  const notify = () => watchers.forEach((w) => w())
  return {
    log,
    listener: {
      event: (e) => (log.push({ kind: 'event', e }), notify()),
      resync: (channel, reason) => (log.push({ kind: 'resync', channel, reason }), notify()),
    },
    events: (channel) => log.flatMap((x) => (x.kind === 'event' && (!channel || x.e.channel === channel) ? [x.e] : [])),
    resyncs: (channel) => log.flatMap((x) => (x.kind === 'resync' && (!channel || x.channel === channel) ? [x.reason] : [])),
    audit() {
      const silentGaps: string[] = []
      const duplicates: string[] = []
      const last = new Map<string, { epoch: string; seq: number; resynced: boolean }>()
      for (const x of log) {
        if (x.kind === 'resync') {
          const cur = last.get(x.channel)
          last.set(x.channel, { epoch: cur?.epoch ?? '', seq: cur?.seq ?? 0, resynced: true })
          continue
        }
        const { channel, epoch, seq } = x.e
        const cur = last.get(channel)
        if (!cur) {
          last.set(channel, { epoch, seq, resynced: false })
          continue
        }
        if (cur.resynced) {
          if (epoch === cur.epoch && seq <= cur.seq) duplicates.push(`${channel}@${seq}`)
        } else if (epoch !== cur.epoch) silentGaps.push(`${channel}: epoch ${cur.epoch} -> ${epoch} without resync`)
        else if (seq <= cur.seq) duplicates.push(`${channel}@${seq}`)
        else if (seq !== cur.seq + 1) silentGaps.push(`${channel}: ${cur.seq} -> ${seq} without resync`)
        last.set(channel, { epoch, seq, resynced: false })
      }
      return { silentGaps, duplicates }
    },
    onChange: (fn) => void watchers.push(fn),
  }
}

/** Resolves once `predicate` holds after some recorder change; rejects after `timeoutMs`. */
export async function until(rec: Recorder, predicate: () => boolean, describe: () => string, timeoutMs = 30_000): Promise<void> {
  const w = waitFor(predicate, describe, timeoutMs)
  rec.onChange(w.poke)
  await w.done
}

/** Retries `fn` every `everyMs` until it resolves (bounded by `attempts`): for "once Redis is back". */
export async function eventually<T>(fn: () => Promise<T>, attempts = 200, everyMs = 100): Promise<T> {
  let last: unknown
  for (let i = 0; i < attempts; i++) {
    try {
      return await fn()
    } catch (err) {
      last = err
      await new Promise((r) => setTimeout(r, everyMs))
    }
  }
  throw last
}
