import type { AgentEvent, EventOf, EventType } from 'agentwire/protocol'

/**
 * What every part of the simulation acts through: one way to publish, the clock's time, one
 * seeded random source and the shared counters. One source and one clock for all parts is
 * what makes a seed and a fake clock tell the same story every time.
 */
export interface Stage {
  publish<T extends EventType>(channel: string, type: T, payload: EventOf<T>['payload']): void
  now(): number
  random(): number
  /** One of `items`, at random. */
  pick<T>(items: readonly T[]): T
  /** An integer from `lo` to `hi`, both included, at random. */
  between(lo: number, hi: number): number
  readonly counters: Counters
  /** Resolves once every publish made so far has settled (a Redis broker publishes asynchronously). */
  settled(): Promise<void>
  /**
   * This run's id, part of every task, request, knowledge and message id it makes: a demo
   * restarted on the same Redis finds the last run's streams there, and numbering from 1 again
   * reused finished tasks' ids and changed `req-1`'s query.
   */
  readonly run: string
}

/** Running totals: ids are numbered from them, and the aggregates report them. */
export interface Counters {
  tasks: number
  requests: number
  questions: number
  messages: number
  nodes: number
  edges: number
  completed: number
  failed: number
  published: number
}

export function createStage(
  send: (channel: string, event: AgentEvent) => unknown,
  clock: { now(): number },
  seed: number,
  onError: (error: unknown) => void,
  run: string,
): Stage {
  const random = seededRandom(seed)
  const counters: Counters = { tasks: 0, requests: 0, questions: 0, messages: 0, nodes: 0, edges: 0, completed: 0, failed: 0, published: 0 }
  const pending = new Set<Promise<unknown>>()
  return {
    publish(channel, type, payload) {
      counters.published++
      try {
        const out = send(channel, { type, payload } as AgentEvent)
        if (out && typeof (out as Promise<unknown>).then === 'function') {
          const settling = (out as Promise<unknown>).then(undefined, onError).finally(() => pending.delete(settling))
          pending.add(settling)
        }
      } catch (error) {
        onError(error)
      }
    },
    settled: () => Promise.all([...pending]).then(() => undefined),
    now: () => clock.now(),
    random,
    pick: <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T,
    between: (lo, hi) => lo + Math.floor(random() * (hi - lo + 1)),
    counters,
    run,
  }
}

/** mulberry32: tiny, fast and good enough to make a demo look alive, deterministic per seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
