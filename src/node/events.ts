import { AgentwireError, ErrorCode, channelMatches, type ClientEvent, type Registered } from 'agentwire/protocol'
import type { Client, EventContext } from 'agentwire'

/** One event as an iterator yields it. */
export interface ChannelEvent<E = Registered['events']> {
  /**
   * A built-in event, one of the application's (`events`), or an untyped one (`untyped: true`,
   * type `agentwire:{type}`) of a type this client was not given.
   */
  readonly event: ClientEvent<E>
  /** The concrete channel it came on (the pattern may be `agent:*`). */
  readonly channel: string
  /** Its position on the channel; absent for backends without positions. */
  readonly seq: number | undefined
  readonly epoch: string | undefined
  /** Delivered from the gateway's replay window after a reconnect. */
  readonly replayed: boolean
  /** With `overflow: 'drop-oldest'`: how many events were dropped just before this one. 0 otherwise. */
  readonly dropped: number
}

export interface EventStreamOptions {
  /** Events held for a consumer slower than the stream. @default 1000 */
  bufferSize?: number
  /**
   * What happens when the buffer is full and another event comes:
   * - `'error'`: the iterator stops listening, yields what it holds, then throws
   *   {@link EventOverflowError}: a script never misses an event without knowing.
   * - `'drop-oldest'`: the oldest held event is discarded and the stream goes on; the next
   *   event yielded after the gap carries the count in `dropped`.
   * @default 'error'
   */
  overflow?: 'error' | 'drop-oldest'
}

/** The consumer fell `bufferSize` events behind with `overflow: 'error'`. */
export class EventOverflowError extends AgentwireError {
  override readonly name = 'EventOverflowError'
  constructor(
    readonly pattern: string,
    readonly bufferSize: number,
  ) {
    super(ErrorCode.Overloaded, `events("${pattern}") fell ${bufferSize} events behind; consume faster, raise bufferSize, or use overflow: 'drop-oldest'`, { retryable: false })
  }
}

type Item<E> = { -readonly [K in keyof ChannelEvent<E>]: ChannelEvent<E>[K] }

/**
 * Events on channels matching `pattern`, in arrival order (per channel: position order),
 * subscribed while iterating. `break`, `return()` or a thrown error in the loop unsubscribes
 * and removes the handlers. The iterator ends when the client is closed. After a resync the
 * skipped events are not replayed here; the store holds the converged state.
 */
export function eventStream<E = Registered['events'], C = Registered['commands']>(client: Client<E, C>, pattern: string, options: EventStreamOptions = {}): AsyncIterableIterator<ChannelEvent<E>> {
  const size = options.bufferSize ?? 1000
  const dropOldest = options.overflow === 'drop-oldest'
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`events(): bufferSize must be a positive integer, got ${size}`)
  const queue: Item<E>[] = []
  let waiting: Array<() => void> = []
  let failure: Error | undefined
  let open = true
  const wake = () => {
    const w = waiting
    waiting = []
    for (const fn of w) fn()
  }
  const sub = client.subscribe(pattern)
  const on = client.on as (type: 'event', handler: (event: ClientEvent<E>, context: EventContext) => void) => () => void
  const offEvent = on('event', (event, ctx) => {
    if (!open || !channelMatches(pattern, ctx.channel)) return
    if (!dropOldest && queue.length >= size) {
      failure = new EventOverflowError(pattern, size)
      return stop()
    }
    queue.push({ event, channel: ctx.channel, seq: ctx.seq, epoch: ctx.epoch, replayed: ctx.replayed, dropped: 0 })
    if (queue.length > size) {
      const gone = queue.shift()!
      queue[0]!.dropped += gone.dropped + 1
    }
    wake()
  })
  const offState = client.on('state', (change) => {
    if (change.current === 'closed') stop()
  })
  // A subscription the server refused ends the stream with its typed error.
  sub.ready.catch((error: Error) => {
    if (open) {
      failure = error
      stop()
    }
  })
  function stop(): void {
    if (!open) return
    open = false
    offEvent()
    offState()
    sub.unsubscribe()
    wake()
  }
  const done = (): IteratorResult<ChannelEvent<E>> => ({ done: true, value: undefined })
  const iterator: AsyncIterableIterator<ChannelEvent<E>> = {
    async next() {
      for (;;) {
        const item = queue.shift()
        if (item) return { done: false, value: item }
        if (failure) {
          const f = failure
          failure = undefined
          throw f
        }
        if (!open) return done()
        await new Promise<void>((resolve) => waiting.push(resolve))
      }
    },
    async return() {
      stop()
      queue.length = 0
      failure = undefined
      return done()
    },
    [Symbol.asyncIterator]() {
      return iterator
    },
  }
  return iterator
}
