import type { AgentEvent } from 'agentwire/protocol'
import type { ListenerIndex } from './listener-index'
import type { LogRead, parseNotify } from './redis-log'

/** A parsed notification: `channel\nepoch\nseq\ntime\nevent-json`. */
export type Note = NonNullable<ReturnType<typeof parseNotify>>

/** Where a broker stands in one concrete channel's log. */
interface Cursor {
  /** '' until the channel is first seen with an epoch. */
  epoch: string
  seq: number
  busy: boolean
  again: boolean
}

/** Entries read per catch-up call. */
const CATCH_UP_BATCH = 1000

export interface CursorsOptions {
  /** Reads a channel's head and at most `count` entries from `fromSeq` on. */
  read(channel: string, fromSeq: number, count: number): Promise<LogRead>
  /** Who gets what the cursors let through. */
  listeners: ListenerIndex
  /** A catch-up failed (Redis away): the caller reports it and calls `catchUp()` again later. */
  onCatchUpError(channel: string, err: unknown): void
}

/**
 * One cursor (epoch, seq) per concrete channel a broker follows, and the only place that decides
 * whether a notification is delivered at once (it is the cursor's next seq), read back from the
 * stream (a gap, another epoch, a reconnect), or announced as a `resync` because the log no
 * longer reaches back. Never a silent gap, never a duplicate.
 */
export interface Cursors {
  has(channel: string): boolean
  /** Live delivery of `channel` starts after `head`, unless a cursor already stands there. */
  start(channel: string, head: { epoch: string; seq: number }): void
  /** A channel found with no cursor (born under a pattern while the node was cut off): read from its start. */
  follow(channel: string): void
  /** A live notification: delivered, caught up to, or ignored (already seen, or nobody wants it). */
  route(note: Note): void
  /** Reads every cursor's stream up to its head (after a reconnect, or a failed catch-up). */
  catchUp(): void
  /** Drops the cursors of channels no listener covers any more. */
  sweep(): void
  close(): void
}

export function createCursors(options: CursorsOptions): Cursors {
  const { listeners } = options
  const cursors = new Map<string, Cursor>()
  let closed = false

  const fresh = (epoch = '', seq = 0): Cursor => ({ epoch, seq, busy: false, again: false })

  function route(note: Note): void {
    if (!listeners.wants(note.channel)) return
    let cursor = cursors.get(note.channel)
    if (!cursor) {
      // A channel first seen under a pattern: it did not exist when the pattern was subscribed.
      cursor = fresh()
      cursors.set(note.channel, cursor)
    }
    if (cursor.busy) {
      cursor.again = true
      return
    }
    if (cursor.epoch === '' && cursor.seq === 0) cursor.epoch = note.epoch
    if (note.epoch === cursor.epoch && note.seq <= cursor.seq) return
    if (note.epoch === cursor.epoch && note.seq === cursor.seq + 1) {
      let event: AgentEvent
      try {
        event = JSON.parse(note.text) as AgentEvent
      } catch {
        void pump(note.channel, cursor)
        return
      }
      cursor.seq = note.seq
      listeners.deliver({ channel: note.channel, epoch: note.epoch, seq: note.seq, time: note.time, event })
      return
    }
    void pump(note.channel, cursor)
  }

  /** Reads the stream after the cursor until it is current; the only place that can declare a gap. */
  async function pump(channel: string, cursor: Cursor): Promise<void> {
    if (cursor.busy) {
      cursor.again = true
      return
    }
    cursor.busy = true
    try {
      do {
        cursor.again = false
        for (;;) {
          const r = await options.read(channel, cursor.seq + 1, CATCH_UP_BATCH)
          if (closed || cursors.get(channel) !== cursor) return
          if (r.epoch === '') {
            // The log is gone and no new one has started yet.
            if (cursor.epoch !== '' && cursor.seq > 0) listeners.resync(channel, 'epoch')
            cursor.epoch = ''
            cursor.seq = 0
            break
          }
          if (cursor.epoch === '') cursor.epoch = r.epoch
          if (r.epoch !== cursor.epoch || r.head < cursor.seq) {
            cursor.epoch = r.epoch
            cursor.seq = r.head
            listeners.resync(channel, 'epoch')
            break
          }
          const first = r.events[0]
          if (r.head > cursor.seq && (!first || first.seq !== cursor.seq + 1)) {
            cursor.seq = r.head
            listeners.resync(channel, 'gap')
            break
          }
          for (const stored of r.events) {
            if (stored.seq !== cursor.seq + 1) continue
            cursor.seq = stored.seq
            listeners.deliver(stored)
          }
          if (r.events.length < CATCH_UP_BATCH) break
        }
      } while (cursor.again && !closed)
    } catch (err) {
      options.onCatchUpError(channel, err)
    } finally {
      cursor.busy = false
    }
  }

  return {
    has: (channel) => cursors.has(channel),
    start(channel, head) {
      if (!cursors.has(channel)) cursors.set(channel, fresh(head.epoch, head.seq))
    },
    follow(channel) {
      if (closed || cursors.has(channel) || !listeners.wants(channel)) return
      const cursor = fresh()
      cursors.set(channel, cursor)
      void pump(channel, cursor)
    },
    route,
    catchUp() {
      for (const [channel, cursor] of cursors) void pump(channel, cursor)
    },
    sweep() {
      for (const channel of [...cursors.keys()]) if (!listeners.wants(channel)) cursors.delete(channel)
    },
    close() {
      closed = true
      cursors.clear()
    },
  }
}
