import { AgentwireError, ErrorCode, parseJson } from 'agentwire/protocol'
import type { ClientCore } from './core'
import { messageOf } from './errors'
import type { CommandFrame, PendingRequest } from './request'
import type { RestoredCommand, StorageLike } from './types'

/**
 * Steering that survives a reload: each `cancel` and `feedback` is written to `storage` when it
 * enters the outbox and removed when it settles (answered, refused, timed out, or the client
 * closed). A client created on the same storage after a reload takes the ones still there
 * back into its outbox with their ids, so a command the last page sent and never heard back
 * about is applied once: the gateway answers a known id with its first reply.
 *
 * That guarantee holds as long as the gateway still remembers the id (its `idempotencyTtlMs`,
 * sent in `welcome`), so a restored command older than the TTL, or than the gateway's memory,
 * is not sent: it is rejected with `expired` on `client.on('error')` and in
 * `client.restoredCommands()`.
 *
 * The record is read, changed and written back on each change (never cached), so two clients
 * on one key keep each other's entries; a command they both send is still applied once.
 */

/** A cancel or a feedback: the commands a user makes to steer a running request. */
export type SteeringFrame = Extract<CommandFrame, { type: 'cancel' | 'feedback' }>

export interface SteeringOptions {
  /**
   * A stored command older than this (from when it was made) is not sent after a reload. Keep
   * it at or under the gateway's `idempotencyTtlMs`, which the client also honours.
   * @default 300000 (5 min, the gateway's default)
   */
  ttlMs?: number
  /** Commands kept at most; one more is not stored (reported on `error`) and still sent. @default 20 */
  maxCommands?: number
  /** Largest record written, in characters. @default 65536 */
  maxLength?: number
}

export interface Steering {
  /** A steering command entered the outbox: stored until it settles. */
  keep(request: PendingRequest): void
  /** The stored commands of the last page, back into the outbox through `add`. */
  restore(add: (frame: SteeringFrame) => Promise<unknown>): void
  /** Why a restored command must not go out now (too old for the client or the gateway), or undefined. */
  expired(frame: CommandFrame, gatewayTtlMs: number | undefined): AgentwireError | undefined
  restored(): RestoredCommand[]
}

interface Entry {
  readonly at: number
  readonly frame: SteeringFrame
}

const VERSION = 1

export function isSteering(frame: CommandFrame): frame is SteeringFrame {
  return frame.type === 'cancel' || frame.type === 'feedback'
}

export function createSteering(core: ClientCore, storage: StorageLike, key: string, settings: SteeringOptions = {}): Steering {
  const { options, clock, report, debug } = core
  const user = options.user ?? null
  const ttlMs = whole(settings.ttlMs, 300_000)
  const maxCommands = whole(settings.maxCommands, 20)
  const maxLength = whole(settings.maxLength, 65_536)
  /** When each restored command was made, by id: the only commands the TTL applies to. */
  const restoredAt = new Map<string, number>()
  const handles: RestoredCommand[] = []

  function read(): Entry[] {
    let text: string | null
    try {
      text = storage.getItem(key)
    } catch {
      return []
    }
    if (text === null) return []
    const parsed = parseJson(text, { maxLength })
    const record = parsed.ok ? parsed.value : undefined
    if (!isObject(record) || record.v !== VERSION || !Array.isArray(record.commands)) return []
    if ((record.user ?? null) !== user) {
      // Another user's steering: never sent from this session, and gone from this storage.
      remove()
      return []
    }
    const out: Entry[] = []
    for (const item of record.commands) {
      const entry = readEntry(item)
      if (entry) out.push(entry)
    }
    return out
  }

  function remove(): void {
    try {
      storage.removeItem(key)
    } catch {
      /* nothing more to do */
    }
  }

  /** Writes `entries`; the reason when they do not fit. */
  function write(entries: readonly Entry[]): 'too many' | 'too large' | 'failed' | undefined {
    if (entries.length === 0) {
      remove()
      return undefined
    }
    if (entries.length > maxCommands) return 'too many'
    const text = JSON.stringify({ v: VERSION, user, commands: entries })
    if (text.length > maxLength) return 'too large'
    try {
      storage.setItem(key, text)
      return undefined
    } catch (error) {
      report(new AgentwireError(ErrorCode.Internal, `steering could not be stored: ${messageOf(error)}`, { cause: error, retryable: false }))
      return 'failed'
    }
  }

  function forget(id: string): void {
    const entries = read()
    const rest = entries.filter((e) => e.frame.id !== id)
    if (rest.length !== entries.length) write(rest)
  }

  function tooOld(at: number, limit: number, frame: SteeringFrame, why: string): AgentwireError {
    const age = Math.max(0, clock.now() - at)
    const what = frame.type === 'feedback' ? `the answer to question "${frame.questionId}" of request "${frame.requestId}"` : `the cancel of request "${frame.requestId}"`
    return new AgentwireError(
      ErrorCode.Expired,
      `${what}, made ${Math.round(age / 1000)} s ago before a reload, was not sent: older than ${why} (${limit} ms). Make it again if it still stands.`,
      { retryable: false },
    )
  }

  return {
    keep(request) {
      const frame = request.frame
      if (!isSteering(frame) || restoredAt.has(frame.id)) return
      const entries = read()
      const outcome = entries.some((e) => e.frame.id === frame.id) ? undefined : write([...entries, { at: clock.now(), frame }])
      if (outcome === 'too many' || outcome === 'too large') {
        report(
          new AgentwireError(
            ErrorCode.OutboxFull,
            `"${frame.type}" for request "${frame.requestId}" is kept in memory only and will not survive a reload: ${outcome === 'too many' ? `${maxCommands} commands are already stored (steering.maxCommands)` : `the record would pass steering.maxLength (${maxLength})`}`,
            { retryable: false },
          ),
        )
      }
      const settle = () => forget(frame.id)
      request.promise.then(settle, settle)
    },
    restore(add) {
      const entries = read()
      if (entries.length === 0) return
      const expired: AgentwireError[] = []
      for (const entry of entries) {
        const { frame } = entry
        const base = { id: frame.id, type: frame.type, requestId: frame.requestId, madeAt: entry.at, ...(frame.type === 'feedback' ? { questionId: frame.questionId } : {}) }
        if (clock.now() - entry.at > ttlMs) {
          const error = tooOld(entry.at, ttlMs, frame, 'steering.ttlMs')
          expired.push(error)
          forget(frame.id)
          const result = Promise.reject(error)
          result.catch(() => {})
          handles.push({ ...base, result })
          continue
        }
        restoredAt.set(frame.id, entry.at)
        const result = add(frame).then(() => undefined)
        result.catch(() => {})
        const settle = () => forget(frame.id)
        result.then(settle, settle)
        handles.push({ ...base, result })
      }
      debug('steering restored', { commands: entries.length, expired: expired.length })
      // After createClient returns, so listeners attached right after it hear them.
      if (expired.length > 0) void Promise.resolve().then(() => expired.forEach(report))
    },
    expired(frame, gatewayTtlMs) {
      const at = restoredAt.get(frame.id)
      if (at === undefined || !isSteering(frame)) return undefined
      const error =
        clock.now() - at > ttlMs
          ? tooOld(at, ttlMs, frame, 'steering.ttlMs')
          : gatewayTtlMs !== undefined && clock.now() - at > gatewayTtlMs
            ? tooOld(at, gatewayTtlMs, frame, "the gateway's idempotencyTtlMs, after which it could apply it twice")
            : undefined
      if (error) report(error)
      return error
    },
    restored: () => [...handles],
  }
}

/** One stored command, checked as strictly as a frame from the wire: storage is input too. */
function readEntry(item: unknown): Entry | undefined {
  if (!isObject(item) || !isObject(item.frame)) return undefined
  const { at, frame } = item
  if (typeof at !== 'number' || !Number.isFinite(at)) return undefined
  if (typeof frame.id !== 'string' || frame.id === '' || typeof frame.requestId !== 'string' || frame.requestId === '') return undefined
  if (frame.type === 'cancel') {
    if (frame.reason !== undefined && typeof frame.reason !== 'string') return undefined
    return { at, frame: { type: 'cancel', id: frame.id, requestId: frame.requestId, ...(frame.reason === undefined ? {} : { reason: frame.reason }) } }
  }
  if (frame.type === 'feedback') {
    if (typeof frame.questionId !== 'string' || !('answer' in frame)) return undefined
    return { at, frame: { type: 'feedback', id: frame.id, requestId: frame.requestId, questionId: frame.questionId, answer: frame.answer } }
  }
  return undefined
}

function whole(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.floor(value) : fallback
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
