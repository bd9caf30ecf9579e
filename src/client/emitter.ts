/**
 * A tiny listener registry: `on` returns its own `off`, emitting iterates over a copy (a
 * listener may remove itself or others), and a listener that throws is handed to `onThrow`
 * instead of breaking the emitter or the listeners after it.
 */
export interface Emitter {
  on(type: string, listener: (...args: never[]) => void): () => void
  emit(type: string, ...args: unknown[]): void
  count(type: string): number
  clear(): void
}

export function createEmitter(onThrow: (error: unknown, type: string) => void): Emitter {
  const listeners = new Map<string, Set<(...args: unknown[]) => void>>()
  return {
    on(type, listener) {
      const fn = listener as (...args: unknown[]) => void
      let set = listeners.get(type)
      if (!set) listeners.set(type, (set = new Set()))
      // The same function registered twice is two registrations, each removed by its own off().
      const entry = (...args: unknown[]) => fn(...args)
      set.add(entry)
      let active = true
      return () => {
        if (!active) return
        active = false
        const current = listeners.get(type)
        current?.delete(entry)
        if (current?.size === 0) listeners.delete(type)
      }
    },
    emit(type, ...args) {
      const set = listeners.get(type)
      if (!set || set.size === 0) return
      for (const fn of [...set]) {
        try {
          fn(...args)
        } catch (error) {
          onThrow(error, type)
        }
      }
    },
    count(type) {
      return listeners.get(type)?.size ?? 0
    },
    clear() {
      listeners.clear()
    },
  }
}
