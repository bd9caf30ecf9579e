/**
 * Client-generated ids: command ids are idempotency keys (the gateway applies a re-sent
 * command once), so they must not repeat across tabs or reloads. `crypto.randomUUID` where the
 * runtime has it (browsers in secure contexts, Node ≥ 19, workers); otherwise a per-process
 * counter plus random and time bits.
 */
let counter = 0

export function createId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto
  if (c && typeof c.randomUUID === 'function') {
    try {
      return c.randomUUID()
    } catch {
      // Insecure contexts expose `crypto` but throw on randomUUID: fall through.
    }
  }
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER
  const random = Math.random().toString(36).slice(2, 10).padEnd(8, '0')
  return `${Date.now().toString(36)}-${counter.toString(36)}-${random}`
}
