import { parseChannel, parseJson, parseState, serializeState, type AgentwireState } from 'agentwire/protocol'
import type { StorageLike } from '../client/types'
import { urlBase } from '../client/url'

/**
 * Recovery across a page reload (RELIABILITY C7): each channel's position and its own state,
 * written to a `Storage` (sessionStorage: per tab, gone with the tab) when the page is hidden
 * or unloaded, and read back when the next client is created, so the reloaded page shows the
 * saved state at once and resumes each channel from its last seq instead of starting over.
 *
 * A position is only ever saved together with the state built up to it: resuming from a seq
 * with an empty store would lose everything before it. The record names the user it was saved
 * for; another user (or none where one was named) gets a fresh session and the record is
 * removed, so one user's data never reaches another's page.
 */

/** One channel as saved: where the client was, and the state it had built up to there. */
export interface SavedChannel {
  readonly channel: string
  readonly epoch: string
  readonly seq: number
  /** Absent for a pattern: its position counts the channels born, it has no state of its own. */
  readonly state?: AgentwireState | undefined
  /** The application's reducer states on the channel, by name. */
  readonly reduced?: Readonly<Record<string, unknown>> | undefined
}

export interface RecoveryOptions {
  readonly storage: StorageLike
  readonly key: string
  /** The user the data belongs to; `undefined` is a user of its own (anonymous). */
  readonly user: string | undefined
  /** Largest record written, in characters. */
  readonly maxLength: number
}

export type SaveOutcome = { saved: true; length: number } | { saved: false; reason: 'too large' | 'storage failed'; length?: number; error?: unknown }

export interface Recovery {
  readonly key: string
  /** The saved channels for this user; none when nothing was saved, it was another user's, or it does not read. */
  load(): SavedChannel[]
  save(channels: readonly SavedChannel[]): SaveOutcome
  /** Takes the key for this client; false when another live client on this page holds it. */
  claim(): boolean
  release(): void
}

/** Version of the stored record; a record of another version is ignored. */
const VERSION = 1

/** Storage keys held by live clients in this realm, so two of them never write one key. */
const claimed = new Set<string>()

/**
 * The default key: the URL without its query (tokens travel there on some backends) or
 * credentials, plus the instance name, so two clients of one page each have their own.
 */
export function defaultStorageKey(url: string, instance: string): string {
  return `agentwire:${urlBase(url)}#${instance}`
}

export function createRecovery(options: RecoveryOptions): Recovery {
  const { storage, key, maxLength } = options
  const user = options.user ?? null
  let holding = false

  return {
    key,
    load() {
      let text: string | null
      try {
        text = storage.getItem(key)
      } catch {
        return []
      }
      if (text === null) return []
      const parsed = parseJson(text, { maxLength })
      const record = parsed.ok ? parsed.value : undefined
      if (!isObject(record) || record.v !== VERSION || !Array.isArray(record.channels)) return []
      if ((record.user ?? null) !== user) {
        // Saved for someone else: a fresh session, and their data leaves this tab.
        try {
          storage.removeItem(key)
        } catch {
          /* nothing more to do */
        }
        return []
      }
      const out: SavedChannel[] = []
      for (const item of record.channels) {
        const channel = readChannel(item)
        if (channel) out.push(channel)
      }
      return out
    },
    save(channels) {
      const text = JSON.stringify({
        v: VERSION,
        user,
        channels: channels.map((c) => ({ channel: c.channel, epoch: c.epoch, seq: c.seq, state: c.state && serializeState(c.state), ...(c.reduced ? { reduced: c.reduced } : {}) })),
      })
      try {
        if (text.length > maxLength) {
          // An older, smaller record would resume from positions this page has moved past; drop it.
          storage.removeItem(key)
          return { saved: false, reason: 'too large', length: text.length }
        }
        storage.setItem(key, text)
        return { saved: true, length: text.length }
      } catch (error) {
        return { saved: false, reason: 'storage failed', error }
      }
    },
    claim() {
      if (holding) return true
      if (claimed.has(key)) return false
      claimed.add(key)
      holding = true
      return true
    },
    release() {
      if (!holding) return
      holding = false
      claimed.delete(key)
    },
  }
}

/** One saved channel, checked as strictly as a frame from the wire: storage is input too. */
function readChannel(item: unknown): SavedChannel | undefined {
  if (!isObject(item)) return undefined
  const { channel, epoch, seq } = item
  if (typeof channel !== 'string' || typeof epoch !== 'string' || epoch === '') return undefined
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return undefined
  const check = parseChannel(channel)
  if (!check.ok || check.channel !== channel) return undefined
  if (check.pattern) return { channel, epoch, seq }
  const state = parseState(item.state)
  if (!state.ok) return undefined
  const reduced = isObject(item.reduced) ? item.reduced : undefined
  return { channel, epoch, seq, state: state.state, ...(reduced ? { reduced } : {}) }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
