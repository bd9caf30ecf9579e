import type {
  AgentwireError,
  AgentwireState,
  AnyCommandDefinitions,
  AnyEventDefinitions,
  AnyEventOf,
  ClientEvent,
  Codec,
  CommandName,
  CommandPayload,
  CommandResult,
  KnownEventType,
  ReducedStates,
  Registered,
  RequestView,
  WireFrame,
} from 'agentwire/protocol'

/** The connection's state. `offline`: the browser says there is no network; `unauthorized`: the token was refused and no new one came. */
export type ConnectionStatus = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'offline' | 'unauthorized' | 'closed'

export interface StateChange {
  readonly previous: ConnectionStatus
  readonly current: ConnectionStatus
  /** Why: the close code and reason, or the error. */
  readonly reason?: { readonly code?: number; readonly message?: string; readonly error?: AgentwireError }
}

/** Where an event came from. */
export interface EventContext {
  readonly channel: string
  /** Absent for backends without positions. */
  readonly seq?: number
  readonly epoch?: string
  readonly time?: number
  /** Delivered from the gateway's replay window after a reconnect. */
  readonly replayed: boolean
}

export interface ResyncInfo {
  readonly channel: string
  /** `window`: the replay window no longer reached back; `epoch`: the server lost its log; `gap`: a jump in positions; `reconnect`: a backend without resume reconnected. */
  readonly reason: 'window' | 'epoch' | 'gap' | 'reconnect'
}

export type TimerHandle = unknown
/** Every timer and every reading of the time goes through this; tests inject a fake. */
export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): TimerHandle
  clearTimeout(handle: TimerHandle): void
}

/**
 * A handler property that a socket with a richer event type still fits: method syntax makes the
 * parameter bivariant, so `ws`'s `(event: WebSocket.MessageEvent) => void` (under `@types/ws`)
 * and the DOM's `(ev: MessageEvent) => void` are both accepted where the client needs `{ data }`.
 */
type SocketHandler<E> = { handle(ev: E): void }['handle'] | null

/** The part of the WHATWG WebSocket the client uses; browsers', `ws`'s and mock-socket's fit. */
export interface WebSocketLike {
  readonly readyState: number
  readonly bufferedAmount?: number
  binaryType?: string
  onopen: SocketHandler<unknown>
  onmessage: SocketHandler<{ data: unknown }>
  onclose: SocketHandler<{ code: number; reason: string; wasClean?: boolean }>
  onerror: SocketHandler<unknown>
  send(data: string): void
  close(code?: number, reason?: string): void
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike

/** Callbacks a transport calls. */
export interface TransportHandlers {
  onOpen(): void
  onFrame(frame: unknown): void
  onClose(code: number, reason: string): void
  onError?(error: unknown): void
}
/** One open (or opening) connection of a transport. */
export interface TransportConnection {
  send(frame: WireFrame): void
  close(code?: number, reason?: string): void
  /** Bytes queued but not yet sent, where the transport knows. */
  readonly bufferedAmount?: number
}
/** How frames travel: a WebSocket (default), Socket.IO, HTTP fallback, or several endpoints as one. */
export interface Transport {
  readonly name: string
  connect(url: string, handlers: TransportHandlers): TransportConnection
}

export interface ReconnectOptions {
  /** @default 500 */
  initialDelayMs?: number
  /** @default 30000 */
  maxDelayMs?: number
  /** @default 2 */
  factor?: number
  /**
   * Jitter: retry k of a wave comes at `initialDelayMs * factor ** (k - 1 + u)` after the drop, with
   * u drawn once per wave (or the gateway's slot from a drain's 1012), then at the cap a delay drawn
   * from [0.3, 1] × maxDelayMs; without it, each delay is `initialDelayMs * factor ** k`, capped.
   * @default true
   */
  jitter?: boolean
  /** @default Infinity */
  maxRetries?: number
  /** The connection must stay open this long before the retry counter resets (anti-flap). @default 5000 */
  stableAfterMs?: number
}

export interface HeartbeatOptions {
  /** Send a ping after this much silence. @default 25000 */
  intervalMs?: number
  /** Declare the link dead after intervalMs + timeoutMs with nothing received. @default 10000 */
  timeoutMs?: number
}

/** A browser-like environment for `online`, `offline`, `visibilitychange` and `pageshow`; `globalThis` by default. */
export interface EnvironmentLike {
  addEventListener(type: string, listener: () => void): void
  removeEventListener(type: string, listener: () => void): void
  readonly navigator?: { readonly onLine?: boolean }
  readonly document?: { readonly visibilityState?: string; addEventListener?(type: string, l: () => void): void; removeEventListener?(type: string, l: () => void): void }
}

export interface ClientOptions {
  /** The gateway's WebSocket URL, e.g. `ws://localhost:8787/ws`. Never put a token in it. */
  url: string
  /** A string, or a function asked again on every connect; sent in the first frame. @default undefined (no token) */
  token?: string | (() => string | Promise<string>)
  /**
   * The backend's codec. `'agentwire'` (the native protocol) is built in; for a seed backend
   * pass its codec, e.g. `dialect: dialects.routing` (or `routing`, `webgui`, `rooms`, `forge`,
   * `createProgressCodec()`) from `agentwire/protocol`, so a browser bundle carries only the
   * codecs it uses. Any other string throws at once. (`createNodeClient` also takes every
   * dialect by name.)
   * @default 'agentwire'
   */
  dialect?: 'agentwire' | Codec
  /** Backoff between reconnect attempts. @default { initialDelayMs: 500, maxDelayMs: 30000, factor: 2, jitter: true, maxRetries: Infinity, stableAfterMs: 5000 } */
  reconnect?: ReconnectOptions
  /** Liveness: a ping after intervalMs of silence, the link declared dead after intervalMs + timeoutMs. @default { intervalMs: 25000, timeoutMs: 10000 } */
  heartbeat?: HeartbeatOptions
  /** Abort a handshake that has not completed (welcome received) in this time. @default 10000 */
  connectTimeoutMs?: number
  /** Reject a command's promise when no reply came in this time. @default 10000 */
  requestTimeoutMs?: number
  /** Commands kept while disconnected; one more is rejected with `outbox_full`. @default 100 */
  outboxSize?: number
  /** Connect on creation; otherwise on the first `connect()` or `subscribe()`. @default true */
  autoConnect?: boolean
  /** The WebSocket constructor. @default globalThis.WebSocket (createClient throws at once when there is none) */
  WebSocket?: WebSocketConstructor
  /** Replaces the WebSocket transport altogether. @default a WebSocket transport over `WebSocket` */
  transport?: Transport
  /** @default the real clock */
  clock?: Clock
  /** @default globalThis, when it has addEventListener */
  environment?: EnvironmentLike | null
  /** Consecutive undecodable frames after which the client reconnects. @default 3 */
  maxProtocolErrors?: number
  /** Debug log; never receives tokens. @default none */
  debug?: (message: string, data?: Record<string, unknown>) => void
  /**
   * Where to keep recovery data across a page reload, e.g. `sessionStorage`: each channel's
   * position and its own state, saved when the page is hidden or unloaded (`pagehide`,
   * `visibilitychange` to hidden; never per event) and restored when the client is created, so
   * the reloaded page shows the saved state at once and resumes every channel from its last
   * seq (exactly once, in order, while the gateway's replay window still reaches back).
   * Set it, and the options below, with `...recovery({ storage })` from `agentwire/recovery`,
   * which brings the code that does it: an app without recovery does not load it.
   * @default undefined (nothing is saved)
   */
  storage?: StorageLike | null
  /** The recovery code, set by `recovery()` from `agentwire/recovery`. @default none */
  recovery?: RecoveryPlugin
  /**
   * The key of this client's recovery data in `storage`.
   * @default `agentwire:<url without query>#<instance>`
   */
  storageKey?: string
  /**
   * This client's name among several on one page with the same URL, so each has its own
   * recovery key. Two live clients claiming one key is reported on `error`, and the later one
   * saves nothing.
   * @default 'default'
   */
  instance?: string
  /**
   * Who the recovery data belongs to (a user id, not a token). Data saved for one user is
   * never restored for another, nor for none: a mismatch starts a fresh session and removes
   * the saved data.
   * @default undefined (an anonymous session)
   */
  user?: string
  /**
   * Largest recovery record written, in characters; a larger one is not saved (and an older
   * one is removed), so the page starts fresh rather than filling the storage quota.
   * @default 1048576 (1 MiB)
   */
  maxStorageLength?: number
  /**
   * With `storage`: each `cancel` and `feedback` is kept there until it is answered, so one
   * made offline (or whose reply the reload cut off) is sent once by the next page's client,
   * with its id (the gateway applies an id once). Restored commands older than `ttlMs`, or
   * than the gateway's `idempotencyTtlMs`, are rejected with `expired`. `false`: not kept.
   * @default { ttlMs: 300000, maxCommands: 20, maxLength: 65536 }
   */
  steering?: { ttlMs?: number; maxCommands?: number; maxLength?: number } | false
  /**
   * The application's own event types and reducers (`defineEvents` from `agentwire/protocol`):
   * their events are validated on receipt and typed in `on`, and each reducer's state is kept
   * per channel (`client.reduced`). Pass the same definitions to the gateway.
   * @default the registered ones' types (see `Register`), none at run time
   */
  events?: AnyEventDefinitions
  /**
   * The application's own commands (`defineCommands`): `client.command(name, payload)` is
   * typed with them and checks the payload before it is queued.
   * @default none: `command` sends any name and the gateway decides
   */
  commands?: AnyCommandDefinitions
}

/** What `recovery()` from `agentwire/recovery` adds to the options (opaque). */
export interface RecoveryPlugin {
  readonly kind: 'agentwire.recovery'
}

/** A cancel or feedback the last page left unanswered, taken over by this client at creation. */
export interface RestoredCommand {
  /** The command id, as the last page sent it. */
  readonly id: string
  readonly type: 'cancel' | 'feedback'
  readonly requestId: string
  readonly questionId?: string
  /** When it was made (the clock's time, ms). */
  readonly madeAt: number
  /** Settles with the gateway's answer; rejects with `expired` when it was too old to send. */
  readonly result: Promise<void>
}

/** The part of the Web Storage API the client uses (`sessionStorage`, `localStorage`, or a fake). */
export interface StorageLike {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
}

export type SubscriptionStatus = 'unsubscribed' | 'subscribing' | 'subscribed' | 'failed'

/** A channel this code wants; ref-counted on the wire; survives reconnects. */
export interface Subscription {
  readonly channel: string
  readonly status: SubscriptionStatus
  /** The typed error when `status` is `failed` (e.g. forbidden); while `subscribing` after a temporary refusal, that refusal. */
  readonly error: AgentwireError | undefined
  /**
   * Resolves once subscribed (on a backend without replies: once the subscribe went out);
   * rejects with the typed error if the server refused for good. A temporary refusal
   * (`overloaded`, `rate_limited`) is retried with backoff and settles nothing.
   */
  readonly ready: Promise<void>
  /** Releases this reference; the last one sends `unsubscribe`. Idempotent. */
  unsubscribe(): void
}

/** A request started with `client.start()`. */
export interface Run {
  readonly id: string
  /** Resolves when the server accepted the start. */
  readonly accepted: Promise<void>
  /** Resolves with `request.completed`'s result; rejects on `request.error` or cancellation. */
  readonly result: Promise<unknown>
  cancel(reason?: string): Promise<void>
  feedback(questionId: string, answer: unknown): Promise<void>
  /** The request's state from the store. */
  getState(): RequestView | undefined
}

export interface StartInput {
  query: string
  context?: Record<string, unknown>
  /** A client-generated id by default. */
  requestId?: string
}

/** Counters since the client was created. */
export interface ClientStats {
  framesIn: number
  framesOut: number
  events: number
  duplicates: number
  decodeErrors: number
  /** Frames of a type the codec does not know (a seed codec's reach `on('event')` untyped). */
  unknownFrames: number
  /** Error frames a foreign backend sent (each reported on `on('error')` with the frame as `raw`). */
  backendErrors: number
  /** Connection attempts after the first one (each retry, wake-up or reconnect()). */
  reconnects: number
}

/** A handler of one event type, built-in or the application's. */
export type EventHandler<T extends string, E = Registered['events']> = (event: AnyEventOf<E, T>, context: EventContext) => void

export interface ClientEvents<E = Registered['events']> {
  state: (change: StateChange) => void
  error: (error: AgentwireError) => void
  resync: (info: ResyncInfo) => void
  /**
   * Every event, whatever its type: built-in ones, the application's (`events`), and any other
   * as an {@link UntypedEvent} with its payload as it came (`untyped: true`, `type`
   * `{codec}:{type}`: `agentwire:deploy.finished` for a native event nobody registered here,
   * `webgui:user_typing` for a foreign frame no canonical event fits).
   */
  event: (event: ClientEvent<E>, context: EventContext) => void
}

/** Per-call options of `client.command`. */
export interface CommandOptions {
  /** Reject when no reply came in this time. @default the client's `requestTimeoutMs` */
  timeoutMs?: number
  /** The idempotency key: a command re-sent with the same id is applied once by the gateway. @default a fresh id */
  id?: string
}

/**
 * A client of any definitions, as the React provider and the Vue plugin take it (the hooks
 * are typed by `Register`, not by the client they are given).
 */
export type AnyClient = Client<AnyEventDefinitions, AnyCommandDefinitions>

/**
 * A client. `E` and `C` are the application's event and command definitions
 * (`defineEvents`, `defineCommands`), taken from the options or the registered ones.
 */
export interface Client<E = Registered['events'], C = Registered['commands']> {
  readonly state: ConnectionStatus
  readonly stats: Readonly<ClientStats>
  on<K extends keyof ClientEvents<E>>(type: K, handler: ClientEvents<E>[K]): () => void
  on<T extends KnownEventType<E>>(type: T, handler: EventHandler<T, E>): () => void
  /**
   * Sends one of the application's commands (`commands`) and resolves with the gateway's reply
   * (`onCommand`'s return value). Queued in the outbox while offline and sent once with its
   * id; rejects with a typed error (`unknown_command`, `bad_request`, `timeout`, …).
   */
  command<N extends CommandName<C>>(name: N, payload: CommandPayload<C, N>, options?: CommandOptions): Promise<CommandResult<C, N>>
  /** The state of the reducer `name` (`defineEvents(…).reducer`) on `channel`: its `initial` before any event. */
  reduced<N extends keyof ReducedStates<E> & string>(name: N, channel: string): ReducedStates<E>[N]
  subscribe(channel: string): Subscription
  start(input: StartInput): Run
  cancel(requestId: string, reason?: string): Promise<void>
  feedback(requestId: string, questionId: string, answer: unknown): Promise<void>
  /** The cancels and feedback the last page left unanswered in `storage`, sent again by this client (see `steering`). */
  restoredCommands(): RestoredCommand[]
  /** Restores a request's full state (after a reload) and follows it. */
  rejoin(requestId: string): Promise<RequestView | undefined>
  ack(channel: string, seq: number, options?: { kind?: 'received' | 'read'; messageId?: string }): void
  getSnapshot(): AgentwireState
  subscribeStore(listener: () => void): () => void
  connect(): void
  /** Reconnects now, skipping any backoff wait. */
  reconnect(): void
  /** Closes for good: no reconnect, pending commands rejected with ClientClosedError, no timer left. */
  close(): void
}
