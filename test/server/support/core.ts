import { afterEach } from 'vitest'
import type { GatewaySocket } from 'agentwire/server'

/** A socket with no network for `createGatewayCore`: what the core sends is recorded, parsed. */
export function fakeSocket() {
  const sent: any[] = []
  const socket: GatewaySocket = {
    send: (text) => void sent.push(JSON.parse(text)),
    close: () => undefined,
    terminate: () => undefined,
    ping: () => undefined,
    bufferedAmount: 0,
  }
  return { socket, sent }
}

/** Cleanups run after each test of the calling file, last registered first; a failing one is ignored. */
export function cleanupsAfterEach(): Array<() => Promise<unknown>> {
  const cleanups: Array<() => Promise<unknown>> = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
  })
  return cleanups
}

/** Polls `predicate` every 5 ms; rejects with `what()` after `timeoutMs`. */
export async function until(predicate: () => boolean, what: () => string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}
