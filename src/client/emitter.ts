/**
 * A tiny listener registry: `on` returns its own `off`, emitting iterates over the listeners
 * as they were when it began (a listener may remove itself or others), and a listener that
 * throws is handed to `onThrow` instead of breaking the emitter or the listeners after it.
 */
export interface Emitter {
  on(type: string, listener: (...args: never[]) => void): () => void
  /** Calls each listener of `type` with `a` and `b` (every emit of the client passes one or two). */
  emit(type: string, a?: unknown, b?: unknown): void
  count(type: string): number
  clear(): void
}

type Listener = (...args: unknown[]) => void

export function createEmitter(onThrow: (error: unknown, type: string) => void): Emitter {
  // Copy on write: `on` and `off` replace a type's array, `emit` walks the one it found. Emits
  // outnumber registrations by far (one per event), so an emit copies nothing and allocates nothing.
  const listeners = new Map<string, readonly { readonly fn: Listener }[]>()
  return {
    on(type, listener) {
      // One entry object per registration: the same function registered twice is two
      // registrations, each removed by its own off().
      const entry = { fn: listener as Listener }
      listeners.set(type, [...(listeners.get(type) ?? []), entry])
      let active = true
      return () => {
        if (!active) return
        active = false
        const current = listeners.get(type)
        if (current === undefined) return
        const rest = current.filter((e) => e !== entry)
        if (rest.length === 0) listeners.delete(type)
        else listeners.set(type, rest)
      }
    },
    emit(type, a, b) {
      const list = listeners.get(type)
      if (list === undefined) return
      for (let i = 0; i < list.length; i++) {
        try {
          list[i]!.fn(a, b)
        } catch (error) {
          onThrow(error, type)
        }
      }
    },
    count(type) {
      return listeners.get(type)?.length ?? 0
    },
    clear() {
      listeners.clear()
    },
  }
}
