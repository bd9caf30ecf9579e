/** A Web Storage stand-in for tests: `items` to look inside, `writes` to count `setItem` calls. */
export function memoryStorage() {
  const items = new Map<string, string>()
  let writes = 0
  return {
    items,
    get writes() {
      return writes
    },
    getItem: (key: string) => items.get(key) ?? null,
    setItem(key: string, value: string) {
      writes++
      items.set(key, value)
    },
    removeItem: (key: string) => void items.delete(key),
  }
}
