import { isEventType, type AgentwireState, type Registered } from 'agentwire/protocol'
import { createConnection } from './connection'
import { createCore } from './core'
import { createDelivery } from './delivery'
import { createId } from './ids'
import { createRequests } from './requests'
import type { RecoveryParts } from './recovery-plugin'
import { canonicalChannel } from './subscription'
import type { Client, ClientOptions, ClientStats, ConnectionStatus, ResyncInfo } from './types'
import { createWireSubscriptions } from './wire'

const CLIENT_EVENTS = new Set(['state', 'error', 'resync', 'event'])

/**
 * The client: the composition of its parts and the public object. What they share (codec,
 * clock, store, positions, listeners) is the core (`core.ts`). The connection
 * (`connection.ts`) runs the machine's effects; the wire subscriptions (`wire.ts`) keep what
 * the gateway is to send; requests (`requests.ts`) carry commands through the outbox and
 * follow requests to their end; delivery (`delivery.ts`) takes each frame from the codec to
 * the store and the handlers; persistence (`persistence.ts`) keeps positions across a reload.
 * What a ready, lost or closed connection means for each part is spelled out here.
 */
export function createClient<E = Registered['events'], C = Registered['commands']>(options: ClientOptions & { events?: E; commands?: C }): Client<E, C> {
  if (options === null || typeof options !== 'object') throw new TypeError("agentwire: createClient expects options, e.g. createClient({ url: 'ws://localhost:8787/ws' })")
  if (typeof options.url !== 'string' || options.url.length === 0) {
    throw new TypeError("agentwire: createClient needs options.url, the gateway's WebSocket URL, e.g. 'ws://localhost:8787/ws'")
  }
  if (options.storage && (options.recovery as RecoveryParts | undefined)?.kind !== 'agentwire.recovery') {
    throw new TypeError("agentwire: options.storage needs the recovery code, imported only by apps that use it: import { recovery } from 'agentwire/recovery' and spread it, createClient({ url, ...recovery({ storage: sessionStorage }) })")
  }
  const core = createCore(options)
  const { caps, emitter, store, stats } = core

  const connection = createConnection(core, {
    frame: (generation, data) => delivery.receive(generation, data),
    answer: (generation, messages) => delivery.answer(generation, messages),
    resumeItems: (generation) => wire.resumeItems(generation),
    ready,
    lost,
    rejectPending: (error) => requests.rejectPending(error),
    terminate,
    authenticate: (token) => requests.command({ type: 'auth', id: createId(), token }),
    hide: () => persistence?.save(),
    state: (change) => emitter.emit('state', change),
  })
  const wire = createWireSubscriptions(core, connection, (channel, error) => requests.failed(channel, error))
  const parts = options.recovery as RecoveryParts | undefined
  const steering =
    parts && options.storage && options.steering !== false
      ? parts.steering(core, options.storage, `${options.storageKey ?? parts.defaultKey(options.url, options.instance ?? 'default')}:steering`, options.steering)
      : undefined
  const requests = createRequests(core, connection, wire, subscribe, steering)
  const delivery = createDelivery(core, connection, wire, requests)
  const persistence = parts?.persistence(core, wire.registry)

  /** The connection is ready: restore subscriptions, catch up where the backend replays nothing, flush the outbox. */
  function ready(generation: number, reconnected: boolean): void {
    delivery.ready(reconnected)
    wire.ready(generation)
    if (reconnected && caps.rejoin && !caps.resume) requests.rejoinFollowed(generation)
    if (reconnected && !caps.positions) {
      for (const w of wire.registry.all()) emitter.emit('resync', { channel: w.channel, reason: 'reconnect' } satisfies ResyncInfo)
    }
    requests.flush()
  }

  /** The connection is gone: subscriptions wait for the next one; sent commands wait to be re-sent. */
  function lost(): void {
    wire.lost()
    core.positions.connectionLost()
    requests.lost()
  }

  /** For good: the storage key is free again, and everything pending fails with ClientClosedError. */
  function terminate(): void {
    persistence?.release()
    requests.terminate()
    wire.terminate()
  }

  function subscribe(channel: string, viaRejoin = false) {
    const handle = wire.subscribe(channel, viaRejoin)
    if (connection.state.status === 'idle') connection.connect()
    return handle
  }

  const client: Client<E, C> = {
    get state(): ConnectionStatus {
      return connection.state.status
    },
    get stats(): Readonly<ClientStats> {
      return { ...stats }
    },
    on(type: string, handler: (...args: never[]) => void): () => void {
      if (typeof handler !== 'function') throw new TypeError(`agentwire: client.on("${String(type)}", handler) needs a function as handler`)
      if (!CLIENT_EVENTS.has(type) && !isEventType(type) && !options.events?.has(type)) {
        throw new TypeError(
          `agentwire: client.on("${String(type)}"): unknown event. Use 'state', 'error', 'resync', 'event' (every event), an event type such as 'agent.status', or one of your own passed as options.events (defineEvents).`,
        )
      }
      return emitter.on(type, handler)
    },
    subscribe: (channel: string) => subscribe(channel),
    command: requests.named as Client<E, C>['command'],
    reduced: ((name: string, channel: string) => options.events?.stateOf(store.reduced(canonicalChannel(channel).channel), name)) as Client<E, C>['reduced'],
    start: requests.start,
    cancel: requests.cancel,
    feedback: requests.feedback,
    restoredCommands: () => steering?.restored() ?? [],
    rejoin: requests.rejoin,
    ack: requests.ack,
    getSnapshot: (): AgentwireState => store.getSnapshot(),
    subscribeStore: (listener: () => void) => store.subscribe(listener),
    connect: connection.connect,
    reconnect(): void {
      const status = connection.state.status
      if (status === 'closed' || status === 'idle' || status === 'unauthorized') return connection.connect()
      connection.dispatch({ type: 'reconnect' })
    },
    close(): void {
      connection.dispatch({ type: 'close' })
    },
  }

  persistence?.restore()
  steering?.restore(requests.command)
  if (options.autoConnect !== false) connection.connect()
  return client
}
