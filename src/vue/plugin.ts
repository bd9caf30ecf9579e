import { getCurrentScope, inject, onScopeDispose, provide, type App, type InjectionKey } from 'vue'
import { createClient, type Client, type ClientOptions } from 'agentwire'

/** Where the plugin and `provideAgentwire` put the client. */
export const clientKey: InjectionKey<Client> = Symbol('agentwire')

export type ClientOrOptions = ClientOptions | { client: Client }

// On the server a client is created without connecting: SSR renders state, never opens sockets.
const make = (input: ClientOrOptions): [Client, boolean] =>
  'client' in input ? [input.client, false] : [createClient({ autoConnect: typeof window !== 'undefined', ...input }), true]

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
export function provideAgentwire(input: Client | ClientOrOptions): Client {
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
