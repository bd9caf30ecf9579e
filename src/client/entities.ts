import { deepEqual, type AgentwireState } from 'agentwire/protocol'
import { hasKey as hasOwn } from '../protocol/records'

/**
 * Entities several channels build. The store keeps each channel's own state next to the
 * merged one, and a channel's snapshot replaces that channel's part of the merged state
 * (`replaceChannel`). One entity may have parts from several channels: a task channel's
 * `routing.decision` names an agent (its strengths, cost, latency, last decision) whose status
 * and load come from `agent:{name}`. Here is what a snapshot may change of such an entity, and
 * an index of which channels hold which entity, so the question is cheap to ask.
 */

const KEYED = ['agents', 'tasks', 'requests', 'sessions', 'chats', 'collections', 'metrics'] as const
export type Keyed = (typeof KEYED)[number]
type Entity = Readonly<Record<string, unknown>>
type Entities = Readonly<Record<string, Entity>>

/** A keyed collection, read as plain entities (each view is a record of fields). */
const keyed = (state: AgentwireState, collection: Keyed): Entities => state[collection] as unknown as Entities
const entityOf = (record: Entities | undefined, key: string): Entity | undefined => (record !== undefined && hasOwn(record, key) ? record[key] : undefined)

/** Which channels hold each entity: `collection` NUL `key` → channel names. */
export type HoldersIndex = Map<string, Set<string>>

const entityId = (collection: Keyed, key: string): string => `${collection}\u0000${key}`

/** Adds (or removes) `channel` as a holder of every entity of `state`. */
export function indexEntities(index: HoldersIndex, channel: string, state: AgentwireState, add: boolean): void {
  for (const collection of KEYED) {
    for (const key of Object.keys(keyed(state, collection))) {
      const id = entityId(collection, key)
      let names = index.get(id)
      if (add) {
        if (names === undefined) index.set(id, (names = new Set()))
        names.add(channel)
      } else if (names !== undefined) {
        names.delete(channel)
        if (names.size === 0) index.delete(id)
      }
    }
  }
}

/** Whether a channel other than `channel` holds the entity (with `field`, when given); `stateOf` reads a channel's own state. */
export function heldBesides(
  index: HoldersIndex,
  stateOf: (channel: string) => AgentwireState | undefined,
  channel: string,
  collection: Keyed,
  key: string,
  field?: string,
): boolean {
  const names = index.get(entityId(collection, key))
  if (names === undefined) return false
  for (const name of names) {
    if (name === channel) continue
    const state = stateOf(name)
    const held = state === undefined ? undefined : entityOf(keyed(state, collection), key)
    if (held !== undefined && (field === undefined || hasOwn(held, field))) return true
  }
  return false
}

/**
 * The merged state after a channel's snapshot, given what `replaceChannel` made of it (`next`).
 * `replaceChannel` gives the snapshot the whole of each entity it names and drops each entity
 * the channel no longer has: a task channel's snapshot wiped the status of the agent it names
 * (until the agent's next `agent.status`), and a task channel emptied by a new epoch removed
 * the agent outright. Here the snapshot speaks for its own channel's part only. For an entity
 * the store held:
 * - the snapshot names it: the snapshot's fields win; fields it lacks stay, except those this
 *   channel brought before and no other channel has;
 * - the channel no longer has it: it stays while another channel holds it, without the
 *   fields only this channel had.
 * `heldBesides` says whether another channel holds an entity, or a field of it (asked only when needed).
 */
export function shareEntities(
  before: AgentwireState,
  previous: AgentwireState | undefined,
  snapshot: AgentwireState,
  next: AgentwireState,
  heldBesides: (collection: Keyed, key: string, field?: string) => boolean,
): AgentwireState {
  let changed: Partial<Record<Keyed, Entities>> | undefined
  for (const collection of KEYED) {
    const was = keyed(before, collection)
    const had = previous === undefined ? undefined : keyed(previous, collection)
    const now = keyed(snapshot, collection)
    const result = keyed(next, collection)
    let record: Record<string, Entity> | undefined
    const put = (key: string, value: Entity) => {
      if (entityOf(record ?? result, key) === value) return
      record ??= Object.setPrototypeOf({ ...result }, null) as Record<string, Entity>
      record[key] = value
    }
    for (const key of Object.keys(now)) {
      const stored = entityOf(was, key)
      if (stored !== undefined) put(key, overlay(stored, entityOf(had, key), now[key] as Entity, (field) => heldBesides(collection, key, field)))
    }
    if (had !== undefined) {
      for (const key of Object.keys(had)) {
        if (hasOwn(now, key)) continue
        const stored = entityOf(was, key)
        if (stored === undefined) continue
        // Held by no other channel: gone, as `replaceChannel` made it.
        if (heldBesides(collection, key)) put(key, without(stored, had[key] as Entity, (field) => heldBesides(collection, key, field)))
      }
    }
    if (record !== undefined) (changed ??= {})[collection] = sameEntities(record, was) ? was : record
  }
  if (changed === undefined) return next
  const out = { ...next, ...changed } as unknown as AgentwireState
  for (const key of Object.keys(out) as Array<keyof AgentwireState>) if (out[key] !== before[key]) return out
  return before
}

/** `stored` with the snapshot's fields, minus the fields this channel had, its snapshot lacks and no other channel has. */
function overlay(stored: Entity, previous: Entity | undefined, fresh: Entity, heldElsewhere: (field: string) => boolean): Entity {
  let out: Record<string, unknown> | undefined
  if (previous !== undefined) {
    for (const field of Object.keys(previous)) {
      if (hasOwn(fresh, field) || !hasOwn(stored, field) || heldElsewhere(field)) continue
      out ??= { ...stored }
      delete out[field]
    }
  }
  for (const field of Object.keys(fresh)) {
    if (hasOwn(stored, field) && deepEqual(stored[field], fresh[field])) continue
    out ??= { ...stored }
    out[field] = fresh[field]
  }
  if (out === undefined) return stored
  // Nothing but the snapshot's fields: the snapshot's own object.
  return Object.keys(out).length === Object.keys(fresh).length ? fresh : out
}

/** `stored` without the fields this channel had that no other holder has. */
function without(stored: Entity, previous: Entity, heldElsewhere: (field: string) => boolean): Entity {
  let out: Record<string, unknown> | undefined
  for (const field of Object.keys(previous)) {
    if (!hasOwn(stored, field) || heldElsewhere(field)) continue
    out ??= { ...stored }
    delete out[field]
  }
  return out ?? stored
}

function sameEntities(a: Entities, b: Entities): boolean {
  const keys = Object.keys(a)
  if (keys.length !== Object.keys(b).length) return false
  for (const key of keys) if (entityOf(b, key) !== a[key]) return false
  return true
}
