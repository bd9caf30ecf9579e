/**
 * Null-prototype records: the keyed collections of `AgentwireState`. An id such as
 * `__proto__`, `constructor` or `toString` must be an ordinary key, so the records have no
 * prototype to find it on, and every write goes through these helpers, or onto a copy they
 * made, instead of a spread or `Object.assign` into `{}` (which would call the `__proto__`
 * setter of `Object.prototype`).
 * On a null-prototype object a plain assignment of `__proto__` creates an own property,
 * which is what makes the helpers both safe and fast.
 *
 * `Object.keys` plus assignment, rather than `for…in`, `Object.assign` or entries, measured
 * fastest for the large (dictionary-mode) records.
 */

/** A mutable null-prototype record; callers freeze it by convention, not by `Object.freeze`. */
export type MutableRecord<T> = Record<string, T>

/** A new, empty null-prototype record. */
export function emptyRecord<T>(): MutableRecord<T> {
  return Object.create(null) as MutableRecord<T>
}

/**
 * Own keys that can reach a prototype when a parsed object is merged or assigned somewhere:
 * `parseJson` removes them and a checker never lets them through.
 */
export const FORBIDDEN_KEYS = ['__proto__', 'constructor', 'prototype'] as const

/** Whether `key` is one of {@link FORBIDDEN_KEYS} (three comparisons: this runs for every key a checker sees). */
export function forbiddenKey(key: string): boolean {
  return key === '__proto__' || key === 'constructor' || key === 'prototype'
}

/** Whether `record` holds `key` as its own property (never an inherited one). */
export function hasKey(record: Readonly<Record<string, unknown>>, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(record, key)
}

/** The value at `key`, ignoring anything a prototype might supply. */
export function getKey<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return hasKey(record, key) ? record[key] : undefined
}

/**
 * Up to this many keys a record is copied by spreading it: V8 clones a small object in fast
 * mode (~3–4× faster than re-inserting 50 keys into a dictionary-mode `Object.create(null)`),
 * and setting the prototype to null afterwards keeps it fast. Larger records go to dictionary
 * mode whatever we do, where re-inserting the keys is the faster copy.
 */
const FAST_COPY_MAX_KEYS = 128

/**
 * A null-prototype copy of `record`. A spread defines properties (it never calls the
 * `__proto__` setter), so an own `__proto__` key stays an ordinary key in the copy.
 */
export function copyRecord<T>(record: Readonly<Record<string, T>>): MutableRecord<T> {
  const keys = Object.keys(record)
  if (keys.length <= FAST_COPY_MAX_KEYS) return Object.setPrototypeOf({ ...record }, null) as MutableRecord<T>
  const out = emptyRecord<T>()
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string
    out[key] = record[key] as T
  }
  return out
}

/** A copy of `record` without `key`; `record` itself when it has no such key. */
export function withoutKey<T>(record: Readonly<Record<string, T>>, key: string): Readonly<Record<string, T>> {
  if (!hasKey(record, key)) return record
  // Null prototype from the start, so assigning a `__proto__` key below defines it.
  const out = Object.setPrototypeOf({}, null) as MutableRecord<T>
  const keys = Object.keys(record)
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string
    if (k !== key) out[k] = record[k] as T
  }
  return out
}
