/**
 * Structural equality of the JSON-like values a state holds: what survives
 * `JSON.stringify` and `JSON.parse` is what counts. So a property whose value is
 * `undefined` equals a missing one, prototypes are ignored (a null-prototype record equals
 * a plain object with the same keys), and `0` equals `-0`.
 */

import { hasKey } from './records'

/** Nesting beyond this is treated as unequal rather than risking the stack on hostile input. */
const MAX_DEPTH = 256

export function deepEqual(a: unknown, b: unknown): boolean {
  return equal(a, b, 0)
}

function equal(a: unknown, b: unknown, depth: number): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (depth > MAX_DEPTH) return false
  const aArray = Array.isArray(a)
  if (aArray !== Array.isArray(b)) return false
  if (aArray) {
    const x = a as unknown[]
    const y = b as unknown[]
    if (x.length !== y.length) return false
    for (let i = 0; i < x.length; i++) if (!equal(x[i], y[i], depth + 1)) return false
    return true
  }
  const x = a as Record<string, unknown>
  const y = b as Record<string, unknown>
  // `for…in` with an own-property check, rather than `Object.keys`: the same own enumerable
  // keys, without allocating two arrays per object (this runs for most events `reduce` folds).
  let defined = 0
  for (const key in x) {
    if (!hasKey(x, key)) continue
    const value = x[key]
    if (value === undefined) continue
    defined++
    if (!hasKey(y, key) || !equal(value, y[key], depth + 1)) return false
  }
  for (const key in y) if (hasKey(y, key) && y[key] !== undefined) defined--
  return defined === 0
}
