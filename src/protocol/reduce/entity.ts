import { deepEqual } from '../equal'
import type { EventType, PayloadOf } from '../events'
import { getKey } from '../records'
import type { StateWriter, Keyed, Mutable, ViewOf } from '../writer'

/**
 * One entity's reducer: for each event type that changes the entity, how. `reduce` runs every
 * entity's function for an event, in the order `reduce.ts` lists the entities. A function reads
 * `w.state` and changes it only through `w`, and only where something differs, so an event that
 * changes nothing writes nothing. The rules each one follows are documented on `reduce`.
 */
export type EntityReducer = { readonly [T in EventType]?: (w: StateWriter, payload: PayloadOf<T>) => void }

export type Patch<T> = { [K in keyof T]?: T[K] | undefined }

/** Shared empty lists for new entities: never changed (a writer copies them first), so sharing costs nothing. */
export const NONE: readonly never[] = Object.freeze([])

/**
 * Sets the defined `fields` of `prev` that differ from it (structurally, so "nothing changed"
 * is detected everywhere the same way). Returns what to store, or `undefined` when every
 * field is already there: the one place entity fields change.
 */
export function patch<T extends object>(w: StateWriter, prev: T, fields: Patch<T>): T | undefined {
  let out: Mutable<T> | undefined
  for (const key in fields) {
    const value = fields[key]
    if (value === undefined) continue
    const old = prev[key]
    // Primitives compare by `===`, as `deepEqual` would; only objects need the walk.
    if (old === value || (typeof value === 'object' && deepEqual(old, value))) continue
    out ??= w.own(prev)
    out[key] = value as T[typeof key]
  }
  return out
}

/** A new entity: `fresh` with the defined `fields` set, owned by the writer. */
export function create<T extends object>(w: StateWriter, fresh: Mutable<T>, fields: Patch<T>): T {
  for (const key in fields) {
    const value = fields[key]
    if (value !== undefined) fresh[key] = value as T[typeof key]
  }
  return w.adopt(fresh)
}

/** Patches the entity `prev` at `key`, or creates it from `fresh(key)` (stored even when `fields` add nothing). */
export function upsert<K extends Keyed>(
  w: StateWriter,
  collection: K,
  key: string,
  prev: ViewOf<K> | undefined,
  fresh: (key: string) => Mutable<ViewOf<K>>,
  fields: Patch<ViewOf<K>>,
): void {
  const next = prev ? patch<ViewOf<K>>(w, prev, fields) : create<ViewOf<K>>(w, fresh(key), fields)
  if (next) w.set(collection, key, next)
}

/** The fields of `T` that hold a list of strings used as a set. */
type StringList<T> = { [P in keyof T]-?: T[P] extends readonly string[] | undefined ? P : never }[keyof T]

/** Adds `item` to the set-like list `field` of the entity at `key` (made by `fresh` when new); nothing when it holds it already. */
export function addOnce<K extends Keyed>(
  w: StateWriter,
  collection: K,
  key: string,
  fresh: (key: string) => Mutable<ViewOf<K>>,
  field: StringList<ViewOf<K>>,
  item: string,
): void {
  const prev = getKey(w.state[collection] as Readonly<Record<string, ViewOf<K>>>, key)
  if (prev && (prev[field] as readonly string[]).includes(item)) return
  const entity = prev ? w.own(prev) : w.adopt(fresh(key))
  const list = w.own(entity[field] as readonly string[])
  list.push(item)
  ;(entity as Record<typeof field, unknown>)[field] = list
  w.set(collection, key, entity as ViewOf<K>)
}
