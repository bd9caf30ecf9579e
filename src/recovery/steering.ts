import { AgentwireError, ErrorCode, parseJson } from 'agentwire/protocol'
import type { ClientCore } from '../client/core'
import { messageOf } from '../client/errors'
import type { Steering } from '../client/recovery-plugin'
import type { CommandFrame, PendingRequest } from '../client/request'
import type { RestoredCommand, StorageLike } from '../client/types'

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

interface Entry {
  readonly at: number
  readonly frame: SteeringFrame
}

const VERSION = 1

export function isSteering(frame: CommandFrame): frame is SteeringFrame {
  return frame.type === 'cancel' || frame.type === 'feedback'
}

export function createSteering(core: ClientCore, storage: StorageLike, key: string, settings: SteeringOptions = {}): Steering {
  const { options, clock, report } = core
  const user = options.user ?? null
  const ttlMs = whole(settings.ttlMs, 300_000)
  const maxCommands = whole(settings.maxCommands, 20)
  const maxLength = whole(settings.maxLength, 65_536)
  /** When each restored command was made, by id: the only commands the TTL applies to. */
  const restoredAt = new Map<string, number>()
  const handles: RestoredCommand[] = []

  function read(): Entry[] {
    let record: unknown
    try {
      const text = storage.getItem(key)
      const parsed = text === null ? undefined : parseJson(text, { maxLength })
      record = parsed?.ok ? parsed.value : undefined
    } catch {
      return []
    }
    if (!isObject(record) || record.v !== VERSION || !Array.isArray(record.commands)) return []
    // Another user's steering: never sent from this session, and gone from this storage.
    if ((record.user ?? null) !== user) return write([]), []
    return record.commands.map(readEntry).filter((e): e is Entry => e !== undefined)
  }

  /** Writes `entries` (none: removes the record); false when they do not fit the bounds. */
  function write(entries: readonly Entry[]): boolean {
    const text = JSON.stringify({ v: VERSION, user, commands: entries })
    if (entries.length > maxCommands || text.length > maxLength) return false
    try {
      if (entries.length === 0) storage.removeItem(key)
      else storage.setItem(key, text)
    } catch (error) {
      report(new AgentwireError(ErrorCode.Internal, `steering could not be stored: ${messageOf(error)}`, { cause: error, retryable: false }))
    }
    return true
  }

  function forget(id: string): void {
    const entries = read()
    const rest = entries.filter((e) => e.frame.id !== id)
    if (rest.length !== entries.length) write(rest)
  }

  /** Removed from storage once settled either way; the promise itself never rejects unhandled. */
  function settled(promise: Promise<unknown>, id: string): Promise<void> {
    const done = promise.then(() => undefined)
    done.then(
      () => forget(id),
      () => forget(id),
    )
    return done
  }

  /** The error for a restored command made at `at` when it is older than `limit`. */
  function tooOld(frame: SteeringFrame, at: number, limit: number | undefined, why: string): AgentwireError | undefined {
    const age = clock.now() - at
    if (limit === undefined || age <= limit) return undefined
    const what = frame.type === 'feedback' ? `the answer to question "${frame.questionId}" of request` : 'the cancel of request'
    return new AgentwireError(ErrorCode.Expired, `${what} "${frame.requestId}", made ${Math.round(age / 1000)} s ago before a reload, was not sent: older than ${why} (${limit} ms)`, {
      retryable: false,
    })
  }

  return {
    keep(request) {
      const frame = request.frame
      if (!isSteering(frame) || restoredAt.has(frame.id)) return
      const entries = read()
      if (!entries.some((e) => e.frame.id === frame.id) && !write([...entries, { at: clock.now(), frame }])) {
        report(new AgentwireError(ErrorCode.OutboxFull, `"${frame.type}" for request "${frame.requestId}" will not survive a reload: past steering.maxCommands or maxLength`, { retryable: false }))
      }
      void settled(request.promise, frame.id).catch(() => {})
    },
    restore(add) {
      const expired: AgentwireError[] = []
      for (const { at, frame } of read()) {
        const error = tooOld(frame, at, ttlMs, 'steering.ttlMs')
        if (error) expired.push(error)
        else restoredAt.set(frame.id, at)
        const result = settled(error ? Promise.reject(error) : add(frame), frame.id)
        result.catch(() => {})
        handles.push({ id: frame.id, type: frame.type, requestId: frame.requestId, madeAt: at, ...(frame.type === 'feedback' && { questionId: frame.questionId }), result })
      }
      // After createClient returns, so listeners attached right after it hear them.
      if (expired.length > 0) void Promise.resolve().then(() => expired.forEach(report))
    },
    expired(frame, gatewayTtlMs) {
      const at = restoredAt.get(frame.id)
      if (at === undefined || !isSteering(frame)) return undefined
      const error = tooOld(frame, at, ttlMs, 'steering.ttlMs') ?? tooOld(frame, at, gatewayTtlMs, "the gateway's idempotencyTtlMs, after which it could apply it twice")
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
  const { type, id, requestId, reason, questionId } = frame
  if (typeof at !== 'number' || !Number.isFinite(at) || typeof id !== 'string' || !id || typeof requestId !== 'string' || !requestId) return undefined
  if (type === 'cancel' && (reason === undefined || typeof reason === 'string')) return { at, frame: { type, id, requestId, ...(reason === undefined ? {} : { reason }) } }
  if (type === 'feedback' && typeof questionId === 'string' && 'answer' in frame) return { at, frame: { type, id, requestId, questionId, answer: frame.answer } }
  return undefined
}

function whole(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.floor(value) : fallback
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
