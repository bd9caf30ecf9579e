/** Entries kept in the flat array before moving to a Map. */
const FLAT_LIMIT = 8

/**
 * A map for the handful of entries a connection usually holds (its channels, their positions):
 * nothing until the first entry, then a flat `[key, value, key, value, …]` array (about 64 bytes
 * for one entry, where an empty `Map` is about 300), and a `Map` past {@link FLAT_LIMIT}
 * entries, so a connection with many channels keeps constant-time lookups. Insertion order is
 * kept either way.
 */
export class SmallMap<K, V> {
  private items: unknown[] | Map<K, V> | undefined = undefined

  get size(): number {
    const items = this.items
    return items === undefined ? 0 : items instanceof Map ? items.size : items.length / 2
  }

  get(key: K): V | undefined {
    const items = this.items
    if (items === undefined) return undefined
    if (items instanceof Map) return items.get(key)
    for (let i = 0; i < items.length; i += 2) if (items[i] === key) return items[i + 1] as V
    return undefined
  }

  has(key: K): boolean {
    const items = this.items
    if (items === undefined) return false
    if (items instanceof Map) return items.has(key)
    for (let i = 0; i < items.length; i += 2) if (items[i] === key) return true
    return false
  }

  set(key: K, value: V): void {
    const items = this.items
    if (items === undefined) {
      this.items = [key, value]
      return
    }
    if (items instanceof Map) {
      items.set(key, value)
      return
    }
    for (let i = 0; i < items.length; i += 2) {
      if (items[i] === key) {
        items[i + 1] = value
        return
      }
    }
    if (items.length < FLAT_LIMIT * 2) {
      items.push(key, value)
      return
    }
    const map = new Map<K, V>()
    for (let i = 0; i < items.length; i += 2) map.set(items[i] as K, items[i + 1] as V)
    map.set(key, value)
    this.items = map
  }

  /** True when the key was there. */
  delete(key: K): boolean {
    const items = this.items
    if (items === undefined) return false
    if (items instanceof Map) return items.delete(key)
    for (let i = 0; i < items.length; i += 2) {
      if (items[i] === key) {
        if (items.length === 2) this.items = undefined
        else items.splice(i, 2)
        return true
      }
    }
    return false
  }

  /** The keys as they are now: the map may change while the caller goes through them. */
  keys(): K[] {
    const items = this.items
    if (items === undefined) return []
    if (items instanceof Map) return [...items.keys()]
    const keys: K[] = []
    for (let i = 0; i < items.length; i += 2) keys.push(items[i] as K)
    return keys
  }

  clear(): void {
    this.items = undefined
  }
}
