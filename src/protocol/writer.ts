import { copyRecord, hasKey, withoutKey, type MutableRecord } from './records'
import { MAX_DECISIONS, MAX_NOTIFICATIONS, type AgentwireState } from './state'

/**
 * The one way `reduce`'s folding logic changes a state: read `writer.state`, change it only
 * through `set` / `remove` / `put` / `own` / `adopt`. The same logic then runs in two modes:
 *
 * - copying (`reduce`): every object an event changes is copied once, so the state passed in
 *   is never touched and everything the event did not change keeps its identity;
 * - drafting (`createDraft`, the client's store): a batch of events copies each collection
 *   and entity at most once, and later events of the batch change those copies in place. When
 *   the batch's result is read (`finish`), the copies become an immutable state, and the next
 *   event copies again.
 *
 * What may be changed in place is decided by identity, never by flags on the views (which
 * would show in snapshots): the root and a collection are this writer's when they differ from
 * the state it started from (`base`); an entity or list is when `own` or `adopt` gave it in
 * this batch. Payload values stored in views are never owned, so never changed.
 */
export type Keyed = 'agents' | 'tasks' | 'requests' | 'sessions' | 'chats' | 'collections' | 'metrics'
/** Root fields that are not keyed collections. */
export type Field = 'knowledge' | 'dashboard' | 'notifications' | 'decisions'
/** How many objects a draft owns before it freezes them and starts over (a copy each, later). */
const MAX_OWNED = 4_096
/** The bounded lists, newest last. */
export type Listed = 'notifications' | 'decisions'
const BOUNDS: Record<Listed, number> = { notifications: MAX_NOTIFICATIONS, decisions: MAX_DECISIONS }
const LISTED = Object.keys(BOUNDS) as Listed[]
export type ViewOf<K extends Keyed> = AgentwireState[K][string]
export type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/**
 * A class rather than a factory of closures: every fold goes through it, and one hidden class
 * with shared methods keeps those calls cheap. Internal to the protocol entry point.
 */
export class StateWriter {
  // Fields are declared and assigned in the constructor, not initialized where declared: a
  // browser bundle (ES2020) then needs no define-property helper for them.
  /** The state folded so far. Read freely; change only through the methods. */
  declare state: AgentwireState
  /** Set by every change since the caller last cleared it: "did this event change anything". */
  declare dirty: boolean
  /** The last immutable state: what the root and collections are compared with. */
  private declare base: AgentwireState
  /** Entities and lists copied or created in this batch; `undefined` when copying. */
  private declare readonly mine: Set<object> | undefined

  constructor(base: AgentwireState, drafting: boolean) {
    this.state = base
    this.dirty = false
    this.base = base
    this.mine = drafting ? new Set() : undefined
  }

  /** Stores `value` at `key` of a keyed collection. */
  set<K extends Keyed>(collection: K, key: string, value: ViewOf<K>): void {
    const record = this.state[collection] as Readonly<Record<string, ViewOf<K>>>
    const prev = record[key]
    if (prev === value && hasKey(record, key)) return
    this.dirty = true
    this.release(prev)
    const root = this.root()
    if (record !== this.base[collection]) {
      ;(record as MutableRecord<ViewOf<K>>)[key] = value
      return
    }
    const out = copyRecord(record)
    out[key] = value
    root[collection] = out as AgentwireState[K]
  }

  /** Removes `key` from a keyed collection; nothing when it is not there. */
  remove(collection: Keyed, key: string): void {
    const record = this.state[collection] as Readonly<Record<string, unknown>>
    if (!hasKey(record, key)) return
    this.dirty = true
    this.release(record[key])
    const root = this.root() as Record<Keyed, Readonly<Record<string, unknown>>>
    if (record !== this.base[collection]) delete (record as Record<string, unknown>)[key]
    else root[collection] = withoutKey(record, key)
  }

  /** Sets a root field that is not a keyed collection. */
  put<F extends Field>(field: F, value: AgentwireState[F]): void {
    const prev = this.state[field]
    if (prev === value) return
    this.dirty = true
    this.release(prev)
    this.root()[field] = value
  }

  /**
   * Appends `entry` to a bounded list (newest last), dropping the oldest beyond its bound.
   * A draft lets its own list run to twice the bound before it drops the excess, and `finish`
   * trims it: dropping one entry per append moves every other entry each time.
   */
  append<F extends Listed>(field: F, entry: AgentwireState[F][number]): void {
    const list = this.own(this.state[field] as ReadonlyArray<AgentwireState[F][number]>)
    list.push(entry)
    const max = BOUNDS[field]
    if (list.length > (this.mine === undefined ? max : 2 * max)) list.splice(0, list.length - max)
    this.put(field, list as AgentwireState[F])
  }

  /**
   * `value` (an entity, a list or a singleton of the state) ready to change: itself when this
   * writer made it in this batch, otherwise a shallow copy it now owns. The caller changes it
   * and stores it (`set` / `put`, or into an owned parent) before the event ends.
   */
  own<T extends object>(value: T): Mutable<T> {
    this.dirty = true
    const mine = this.mine
    if (mine !== undefined && mine.has(value)) return value as Mutable<T>
    const copy = (Array.isArray(value) ? value.slice() : { ...value }) as Mutable<T>
    mine?.add(copy)
    return copy
  }

  /** A new object the fold just built: owned, so later events of the batch change it in place. */
  adopt<T extends object>(value: T): Mutable<T> {
    this.dirty = true
    this.mine?.add(value)
    return value as Mutable<T>
  }

  /**
   * `value` left the state: no longer owned. Without this, a draft nobody reads would keep each
   * entity a later event replaced (a `metrics.snapshot` replaces its entity whole) alive until
   * `tidy`, and a store per client would hold thousands of dead objects through every GC.
   */
  private release(value: unknown): void {
    if (this.mine !== undefined && typeof value === 'object' && value !== null) this.mine.delete(value)
  }

  /**
   * Between two events: forgets what it owns when that grew past {@link MAX_OWNED}. Entities
   * leave `mine` when replaced or removed (`release`); a list or object owned inside an entity
   * does not, so this bounds what a draft nobody reads (a Node client that only handles events)
   * keeps alive.
   */
  tidy(): void {
    if (this.mine !== undefined && this.mine.size > MAX_OWNED) this.finish()
  }

  /** The folded state, immutable from now on: later changes copy what they touch again. */
  finish(): AgentwireState {
    if (this.state !== this.base) {
      for (const field of LISTED) {
        const list = this.state[field]
        if (list.length > BOUNDS[field]) (this.root() as Record<Listed, unknown>)[field] = list.slice(list.length - BOUNDS[field])
      }
    }
    this.base = this.state
    if (this.mine !== undefined && this.mine.size > 0) this.mine.clear()
    return this.state
  }

  /** Starts over from `state`, which is kept by reference and never changed. */
  reset(state: AgentwireState): void {
    this.state = state
    this.finish()
  }

  private root(): Mutable<AgentwireState> {
    if (this.state === this.base) this.state = copyState(this.base)
    return this.state as Mutable<AgentwireState>
  }
}

/**
 * A shallow copy of the root, spelled out: one object shape for every copy, whatever shape
 * the source had (`initialState`, `parseState` and `replaceChannel` build theirs in different
 * field orders); replacing a spread of those mixed shapes with it made the whole of `reduce`
 * ~1.4× faster on the receive mix (bench/store-micro.mjs).
 */
function copyState(s: AgentwireState): Mutable<AgentwireState> {
  return {
    agents: s.agents,
    tasks: s.tasks,
    requests: s.requests,
    sessions: s.sessions,
    chats: s.chats,
    collections: s.collections,
    knowledge: s.knowledge,
    metrics: s.metrics,
    dashboard: s.dashboard,
    notifications: s.notifications,
    decisions: s.decisions,
  }
}
