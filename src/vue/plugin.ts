import { getCurrentScope, inject, onScopeDispose, provide, type App, type InjectionKey } from 'vue'
import { createClient, frame, relayStore, type AnyClient, type Client, type ClientOptions, type Schedule } from 'agentwire'

/** Where the plugin and `provideAgentwire` put the client. */
export const clientKey: InjectionKey<Client> = Symbol('agentwire')

export type { AnyClient, Schedule } from 'agentwire'

/** Options (`events` and `commands` included) for a client the plugin creates, or your own client. */
export type ClientOrOptions = (ClientOptions | { client: AnyClient }) & {
  /**
   * When the composables' refs follow the store. By default once per animation frame
   * (`requestAnimationFrame`; where there is none, as on Node or in jsdom, a timer of ~1/60 s):
   * under a flood of events each ref changes, and its component renders, at most once per
   * frame, to the latest state, instead of once per socket message. Pass `(notify) => notify()`
   * to follow every batch of events the store folds, as tests that want no frame to wait for do.
   * @default once per animation frame
   */
  schedule?: Schedule
}

const relays = new WeakMap<Client, (listener: () => void) => () => void>()

/** The client's store, coalesced by the schedule given with the client (else `frame`): one relay per client. */
export function storeOf(client: Client, schedule: Schedule = frame): (listener: () => void) => () => void {
  let subscribe = relays.get(client)
  if (!subscribe) relays.set(client, (subscribe = relayStore(client, schedule)))
  return subscribe
}

// On the server a client is created without connecting: SSR renders state, never opens sockets.
const make = ({ schedule, ...input }: ClientOrOptions): [Client, boolean] => {
  const made: [Client, boolean] = 'client' in input ? [input.client as Client, false] : [createClient({ autoConnect: typeof window !== 'undefined', ...input }), true]
  if (schedule) relays.delete(made[0]), storeOf(made[0], schedule)
  return made
}

/**
 * `app.use(agentwire, { url })` or `app.use(agentwire, { client })`: one client for the app.
 * A client the plugin created is closed when the app unmounts (Vue 3.5+).
 */
export const agentwire = {
  install(app: App, input: ClientOrOptions): void {
    const [client, owned] = make(input)
    app.provide(clientKey, client)
    if (owned) (app as App & { onUnmount?: (fn: () => void) => void }).onUnmount?.(() => client.close())
  },
}

/**
 * Provides a client to this component's descendants (call in `setup`). A client created here
 * from options is closed when the component's scope is disposed. Returns the client.
 */
export function provideAgentwire(input: AnyClient | ClientOrOptions): Client {
  const [client, owned] = 'subscribeStore' in input ? [input as Client, false] : make(input as ClientOrOptions)
  provide(clientKey, client)
  if (owned && getCurrentScope()) onScopeDispose(() => client.close())
  return client
}

/** The provided client; throws at once when none was provided, saying what to do. */
export function useClient(): Client {
  const client = inject(clientKey, null)
  if (!client) throw new Error('agentwire: no client here. Call app.use(agentwire, { url }) or provideAgentwire(...) in a parent component.')
  return client
}
