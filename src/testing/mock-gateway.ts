/**
 * An in-process gateway on mock-socket that speaks the native protocol, for component and
 * script tests without a network:
 *
 * ```ts
 * const gateway = createMockGateway()
 * const client = createClient({ url: gateway.url, WebSocket: gateway.WebSocket })
 * gateway.publish('agent:planner', { type: 'agent.status', payload: { name: 'planner', status: 'busy' } })
 * await gateway.waitFor((f) => f.type === 'subscribe')
 * gateway.drop()                       // every connection closes; the client reconnects and resumes
 * gateway.restart({ replay: false })   // the log is lost: a new epoch, clients get snapshots
 * ```
 *
 * It does what a test needs and no more: hello → welcome, subscribe / unsubscribe with resume
 * (replay from a position in the same epoch, else a snapshot built with `reduce`), replies to
 * commands, pong to ping. No auth, limits or heartbeats of its own.
 *
 * With the application's definitions it checks and folds them as the gateway does:
 *
 * ```ts
 * const gateway = createMockGateway({ events, commands, onCommand: (c) => ({ paused: c.payload }) })
 * gateway.publish('deploys:prod', { type: 'deploy.finished', payload: { service: 'api', ok: true } })
 * ```
 *
 * To extend it (a refused channel, a slow reply, a command that publishes events), pass
 * `onFrame`: it sees each decoded client frame first and returns `true` when it answered the
 * frame itself through `connection.send(...)`; return nothing to fall through to the defaults.
 * See test/testing/example-component.test.tsx for a React component tested with it.
 */
import { Server, WebSocket as MockWebSocket, type Client as MockSocket } from 'mock-socket'
import {
  AgentwireError,
  ErrorCode,
  PROTOCOL_VERSION,
  applyReducers,
  channelMatches,
  commandSchemas,
  createEventCheck,
  decodeClientFrame,
  encodeServerFrame,
  initialState,
  parseChannel,
  reduce,
  serializeState,
  validate,
  type AgentEvent,
  type AgentwireState,
  type AnyCommandDefinitions,
  type AppCommand,
  type AnyEventDefinitions,
  type ClientFrame,
  type ClientFrameOf,
  type Registered,
  type UserEventOf,
  type UserEventType,
  type ServerFrame,
  type SubscribeItem,
  type SubscribeResult,
} from 'agentwire/protocol'
import type { WebSocketConstructor } from 'agentwire'

/** What `publish` takes: a built-in event or one of the application's (`events`). */
export type PublishableEvent<E = Registered['events']> = AgentEvent | UserEventOf<E, UserEventType<E>>

/** The second argument of `onCommand`. */
export interface MockCommandContext {
  /** The connection the command came on. */
  readonly connection: MockConnection
}

export interface MockGatewayOptions<E = Registered['events'], C = Registered['commands']> {
  /** Each gateway needs its own URL in the process. @default a fresh `ws://agentwire.test/{n}` */
  url?: string
  /** Sent in `welcome`. @default 30000 */
  heartbeatMs?: number
  /** Events kept per channel for replay; an older position gets a snapshot (`window`). @default 1000 */
  window?: number
  /** Sees every client frame first; return `true` if it answered the frame itself. */
  onFrame?: (frame: ClientFrame, connection: MockConnection) => boolean | void
  /** The application's event types and reducers (`defineEvents`): `publish` checks them, `state` frames carry the reducers' states. */
  events?: E & AnyEventDefinitions
  /** The application's commands (`defineCommands`): a `command` frame of another name is answered `unknown_command`, an invalid payload `bad_request`. */
  commands?: C & AnyCommandDefinitions
  /**
   * Answers a valid `command` frame (its payload parsed by the schema): the reply carries what
   * it returns or resolves to; a thrown `AgentwireError` is replied with its code, anything
   * else as `internal`. Without it a valid command is answered ok with no result.
   */
  /** The application's commands, checked first; `name` narrows `payload` as on the gateway. */
  onCommand?: (command: AppCommand<C>, context: MockCommandContext) => unknown
}

/** One client's connection to the mock. */
export interface MockConnection {
  readonly id: string
  /** Channels and patterns this connection subscribed to. */
  readonly subscriptions: ReadonlySet<string>
  send(frame: ServerFrame): void
  close(code?: number, reason?: string): void
}

export interface MockGateway<E = Registered['events']> {
  readonly url: string
  /** mock-socket's WebSocket: pass it as `createClient({ WebSocket })`. */
  readonly WebSocket: WebSocketConstructor
  /** Changes on `restart({ replay: false })`. */
  readonly epoch: string
  /**
   * Checks the event as the gateway's `publish` does, stores it at the channel's next position
   * (any channel `parseChannel` accepts, not a pattern) and sends it to every matching
   * subscriber. Throws the typed error for an unknown type (`unknown_event`), an invalid
   * payload (`bad_request`) or channel (`invalid_channel`).
   */
  publish(channel: string, event: PublishableEvent<E>): { channel: string; epoch: string; seq: number }
  /** Closes every connection (default 1006, as a dropped network shows). */
  drop(code?: number, reason?: string): void
  /** Drops every connection; `replay: false` also loses the log, so clients resync from snapshots. */
  restart(options: { replay: boolean }): void
  /** Every frame clients sent, decoded, oldest first. */
  readonly received: readonly ClientFrame[]
  /** The first received frame (from index `after`, default 0) matching `predicate`; rejects after `timeoutMs` (default 5000). */
  waitFor(predicate: (frame: ClientFrame) => boolean, options?: { after?: number; timeoutMs?: number }): Promise<ClientFrame>
  /** Open connections. */
  readonly connections: readonly MockConnection[]
  /** The state a channel's events built (what a snapshot sends). */
  stateOf(channel: string): AgentwireState
  /** The reducer states a channel's events built, by reducer name (`undefined` before any event, or without reducers). */
  reducedOf(channel: string): Readonly<Record<string, unknown>> | undefined
  close(): void
}

interface Log {
  events: Array<{ seq: number; event: AgentEvent; time: number }>
  seq: number
  state: AgentwireState
  reduced: Readonly<Record<string, unknown>> | undefined
  /** Its birth (first event) in the count of channels born, a pattern's position; 0 before. */
  born: number
}

type Conn = MockConnection & { subs: Set<string>; welcomed: boolean }

let urls = 0
const newEpoch = () => Math.random().toString(36).slice(2, 10)

export function createMockGateway<E = Registered['events'], C = Registered['commands']>(options: MockGatewayOptions<E, C> = {}): MockGateway<E> {
  const url = options.url ?? `ws://agentwire.test/${++urls}`
  const windowSize = options.window ?? 1000
  const server = new Server(url, { mock: false })
  const logs = new Map<string, Log>()
  const received: ClientFrame[] = []
  const waiters = new Set<() => void>()
  const connections: Conn[] = []
  let epoch = newEpoch()
  let births = 0
  let ids = 0
  const check = createEventCheck(options.events)
  const specs = options.commands?.specs ?? {}

  const logOf = (channel: string): Log => {
    let log = logs.get(channel)
    if (!log) logs.set(channel, (log = { events: [], seq: 0, state: initialState(), reduced: undefined, born: 0 }))
    return log
  }

  // As the gateway does, per concrete channel: replay after a position this log still holds,
  // else that channel's snapshot (`initial` without a position, `window` or `epoch` with one).
  function join(conn: Conn, item: SubscribeItem, rejoin?: string): { result: SubscribeResult; then: ServerFrame[] } {
    const parsed = parseChannel(item.channel)
    if (!parsed.ok) return { result: { ok: false, channel: item.channel, error: { code: 'invalid_channel', message: parsed.reason } }, then: [] }
    const channel = parsed.channel
    const from = new Map((item.resume ?? []).filter((p) => channelMatches(channel, p.channel)).map((p) => [p.channel, p]))
    // A pattern's own position (the births it covered): channels born after it come from #1.
    const mark = parsed.pattern ? from.get(channel) : undefined
    if (mark) from.delete(channel)
    const after = !mark ? Infinity : mark.epoch === epoch ? mark.seq : 0
    let first = births + 1
    const concrete = parsed.pattern ? new Set([...from.keys(), ...[...logs.keys()].filter((c) => channelMatches(channel, c))]) : [channel]
    const then: ServerFrame[] = []
    let recovered = from.size > 0 || mark !== undefined
    for (const c of concrete) {
      const log = logOf(c)
      let p = from.get(c)
      if (!p && log.born > after) {
        p = { channel: c, epoch, seq: 0 }
        first = Math.min(first, log.born)
      }
      const oldest = log.events[0]?.seq ?? log.seq + 1
      const lost = !p ? 'initial' : p.epoch !== epoch || p.seq > log.seq ? 'epoch' : p.seq < oldest - 1 ? 'window' : undefined
      if (lost) {
        recovered &&= lost === 'initial'
        then.push({ type: 'state', channel: c, epoch, seq: log.seq, reason: rejoin ? 'rejoin' : lost, ...(rejoin ? { requestId: rejoin } : {}), state: serializeState(log.state) as unknown as Record<string, unknown>, ...(log.reduced ? { reduced: { ...log.reduced } } : {}) })
      } else for (const e of log.events) if (e.seq > p!.seq) then.push({ type: 'event', channel: c, epoch, seq: e.seq, time: e.time, event: e.event })
    }
    conn.subs.add(channel)
    return { result: { ok: true, channel, recovered, ...(parsed.pattern ? { position: { epoch, seq: Math.min(births, first - 1) } } : {}) }, then }
  }

  function publish(name: string, input: PublishableEvent<E>): { channel: string; epoch: string; seq: number } {
    const parsed = parseChannel(name)
    if (!parsed.ok || parsed.pattern) throw new AgentwireError(ErrorCode.InvalidChannel, `publish needs a channel, not ${parsed.ok ? 'a pattern' : parsed.reason}`, { retryable: false })
    const channel = parsed.channel
    // Built-in and user events travel in the same frame; the frame type names the built-in ones.
    const event = check(input) as AgentEvent
    const log = logOf(channel)
    const seq = ++log.seq
    if (seq === 1) log.born = ++births
    const time = Date.now()
    log.events.push({ seq, event, time })
    if (log.events.length > windowSize) log.events.shift()
    log.state = reduce(log.state, event)
    log.reduced = applyReducers(options.events, log.reduced, event, channel)
    for (const conn of connections) {
      if (conn.welcomed && [...conn.subs].some((s) => channelMatches(s, channel))) conn.send({ type: 'event', channel, epoch, seq, time, event })
    }
    return { channel, epoch, seq }
  }

  function handle(conn: Conn, frame: ClientFrame): void {
    if (options.onFrame?.(frame, conn)) return
    const ok = (id: string, result?: unknown) => conn.send({ type: 'reply', id, ok: true, result })
    switch (frame.type) {
      case 'hello': {
        const joined = (frame.resume ?? []).map((item) => join(conn, item))
        conn.welcomed = true
        const subscriptions = frame.resume ? { subscriptions: joined.map((j) => j.result) } : {}
        conn.send({ type: 'welcome', v: PROTOCOL_VERSION, session: conn.id, heartbeatMs: options.heartbeatMs ?? 30_000, ...subscriptions })
        for (const j of joined) j.then.forEach(conn.send)
        return
      }
      case 'subscribe': {
        const joined = frame.channels.map((item) => join(conn, item))
        ok(frame.id, joined.map((j) => j.result))
        for (const j of joined) j.then.forEach(conn.send)
        return
      }
      case 'unsubscribe':
        return ok(frame.id, { channels: frame.channels.filter((c) => conn.subs.delete(c)) })
      case 'rejoin': {
        // State first, then the reply, as the gateway does.
        const channel = `request:${frame.requestId}`
        join(conn, { channel }, frame.requestId).then.forEach(conn.send)
        return ok(frame.id, { channel, epoch, seq: logOf(channel).seq })
      }
      case 'ping':
        return conn.send({ type: 'pong', t: frame.t })
      case 'pong':
        return
      case 'ack':
        return frame.id === undefined ? undefined : ok(frame.id)
      case 'auth':
        return ok(frame.id)
      // Commands publish what the gateway's default handler publishes.
      case 'start': {
        const { seq } = publish(`request:${frame.requestId}`, { type: 'request.started', payload: { requestId: frame.requestId, query: frame.query, ...(frame.context ? { context: frame.context } : {}) } })
        return ok(frame.id, { requestId: frame.requestId, channel: `request:${frame.requestId}`, seq })
      }
      case 'cancel':
        publish(`request:${frame.requestId}`, { type: 'request.cancelled', payload: { requestId: frame.requestId, ...(frame.reason === undefined ? {} : { reason: frame.reason }) } })
        return ok(frame.id, { requestId: frame.requestId })
      case 'feedback':
        publish(`request:${frame.requestId}`, { type: 'request.feedback', payload: { requestId: frame.requestId, questionId: frame.questionId, answer: frame.answer } })
        return ok(frame.id, { requestId: frame.requestId })
      case 'command':
        return void command(conn, frame).then((reply) => conn.send(reply))
    }
  }

  /** The application's command, checked as the gateway does, then `onCommand`; the reply frame. */
  async function command(conn: Conn, frame: ClientFrameOf<'command'>): Promise<ServerFrame> {
    const fail = (code: string, message: string, retryable = false): ServerFrame => ({ type: 'reply', id: frame.id, ok: false, error: { code, message, retryable } })
    if (!Object.prototype.hasOwnProperty.call(specs, frame.name)) {
      const names = Object.keys(specs)
      return fail(ErrorCode.UnknownCommand, `unknown command "${frame.name.slice(0, 64)}": ${names.length ? `expected one of ${names.join(', ')}` : 'this gateway defines no commands'}`)
    }
    const checked = validate(commandSchemas(specs[frame.name]!).payload as never, frame.payload, frame.name)
    if (!checked.ok) return fail(checked.error.code, checked.error.message.slice(0, 1024))
    const valid: ClientFrameOf<'command'> = checked.value === undefined ? { type: 'command', id: frame.id, name: frame.name } : { ...frame, payload: checked.value }
    try {
      const result = options.onCommand ? await options.onCommand(valid as AppCommand<C>, { connection: conn }) : undefined
      return result === undefined ? { type: 'reply', id: frame.id, ok: true } : { type: 'reply', id: frame.id, ok: true, result }
    } catch (error) {
      if (error instanceof AgentwireError) return fail(error.code, error.message.slice(0, 1024), error.retryable)
      return fail(ErrorCode.Internal, `${frame.name} failed on the mock gateway`, true)
    }
  }

  server.on('connection', (socket: MockSocket) => {
    const subs = new Set<string>()
    const conn = {
      id: `mock-${++ids}`,
      subs,
      subscriptions: subs as ReadonlySet<string>,
      welcomed: false,
      send: (frame: ServerFrame) => socket.send(encodeServerFrame(frame)),
      close: (code = 1000, reason = '') => socket.close({ code, reason, wasClean: code === 1000 }),
    }
    connections.push(conn)
    socket.on('message', (data) => {
      const decoded = decodeClientFrame(data)
      if (!decoded.ok) return conn.close(4400, decoded.error.message.slice(0, 100))
      received.push(decoded.frame)
      if (!conn.welcomed && decoded.frame.type !== 'hello') return conn.close(4401, 'hello first')
      handle(conn, decoded.frame)
      for (const wake of [...waiters]) wake()
    })
    socket.on('close', () => {
      const i = connections.indexOf(conn)
      if (i !== -1) connections.splice(i, 1)
    })
  })

  const drop = (code = 1006, reason = 'dropped') => {
    for (const conn of [...connections]) conn.close(code, reason)
  }

  return {
    url,
    WebSocket: MockWebSocket as unknown as WebSocketConstructor,
    get epoch() {
      return epoch
    },
    publish,
    drop,
    restart({ replay }) {
      drop(1012, 'restart')
      if (!replay) {
        logs.clear()
        epoch = newEpoch()
        births = 0
      }
    },
    received,
    waitFor(predicate, { after = 0, timeoutMs = 5000 } = {}) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = received.slice(after).find(predicate)
          if (!found) return false
          waiters.delete(check)
          clearTimeout(timer)
          resolve(found)
          return true
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`waitFor: no matching client frame within ${timeoutMs} ms; received: ${received.map((f) => f.type).join(', ') || 'nothing'}`))
        }, timeoutMs)
        waiters.add(check)
        check()
      })
    },
    connections,
    stateOf: (channel) => logOf(channel).state,
    reducedOf: (channel) => logs.get(channel)?.reduced,
    close() {
      drop(1001, 'gateway closed')
      server.stop()
    },
  }
}
