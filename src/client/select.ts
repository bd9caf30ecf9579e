/**
 * Equality for values a selector builds. The store is structurally shared, so a selector that
 * returns one entity needs only `Object.is`; a selector that builds a fresh array or object
 * (`Object.keys(agents)`, `{ busy, idle }`) would make every store change look like a change.
 * Comparing one level deep keeps such results' identity while their members are the same,
 * which is what lets an adapter skip a re-render.
 */
export function shallowEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false
    return true
  }
  if (Array.isArray(b)) return false
  const ka = Object.keys(a)
  if (ka.length !== Object.keys(b).length) return false
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k) || !Object.is((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false
  }
  return true
}
