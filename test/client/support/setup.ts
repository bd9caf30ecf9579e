import { vi } from 'vitest'
import { WebSocket } from 'mock-socket'
import { createClient, type Client, type ClientOptions, type Registered, type StateChange, type WebSocketConstructor } from 'agentwire'
import { createFakeGateway, type FakeGatewayOptions } from './fake-gateway'

/** CI-like timings from RELIABILITY.md: H = T = 250 ms, B = 50 ms, C = 1 s. */
export const H = 250
export const T = 250
export const B = 50
export const C = 1000

export function setup<E = Registered['events'], C = Registered['commands']>(options: Partial<ClientOptions> & { events?: E; commands?: C } = {}, gatewayOptions: FakeGatewayOptions = {}) {
  const gateway = createFakeGateway(gatewayOptions)
  const states: StateChange[] = []
  const errors: Error[] = []
  const client: Client<E, C> = createClient<E, C>({
    url: gateway.url,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    environment: null,
    reconnect: { initialDelayMs: B, maxDelayMs: C, stableAfterMs: 1000 },
    heartbeat: { intervalMs: H, timeoutMs: T },
    connectTimeoutMs: 1000,
    requestTimeoutMs: 5000,
    ...options,
  })
  client.on('state', (s) => states.push(s))
  client.on('error', (e) => errors.push(e))
  return { gateway, client, states, errors }
}

/** Lets mock-socket's 4 ms hops and the client's microtasks run. */
export async function settle(ms = 20): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms)
}

/** Advances fake time until `predicate` holds, in small steps; fails after `limitMs` of fake time. */
export async function until(predicate: () => boolean, limitMs = 60_000, stepMs = 5): Promise<void> {
  for (let t = 0; t <= limitMs; t += stepMs) {
    if (predicate()) return
    await vi.advanceTimersByTimeAsync(stepMs)
  }
  throw new Error(`condition not reached within ${limitMs} ms of fake time`)
}

/** A browser-like environment whose events a test fires. */
export function fakeEnvironment() {
  const listeners = new Map<string, Set<() => void>>()
  const env = {
    navigator: { onLine: true },
    document: { visibilityState: 'visible' as string },
    addEventListener(type: string, l: () => void) {
      if (!listeners.has(type)) listeners.set(type, new Set())
      listeners.get(type)!.add(l)
    },
    removeEventListener(type: string, l: () => void) {
      listeners.get(type)?.delete(l)
    },
    fire(type: string) {
      for (const l of [...(listeners.get(type) ?? [])]) l()
    },
    count() {
      let n = 0
      for (const s of listeners.values()) n += s.size
      return n
    },
  }
  return env
}
