/**
 * An in-process fake gateway speaking the native protocol over mock-socket, for scenario
 * tests of the client under fake timers. It keeps a positioned log per channel (epoch, seq,
 * a bounded replay window), answers hello/subscribe with replay or a `state` snapshot, replies
 * to commands and applies each command id once, and lets a test script faults: withhold the
 * welcome, go silent (black hole), drop the connection right after a frame, refuse tokens,
 * inject raw frames.
 *
 * To extend it: add an option to `FakeGatewayOptions` and read it in `onFrame`; keep every
 * fault opt-in so existing scenarios stay valid.
 */
import { Server } from 'mock-socket'
import {
  channelMatches,
  initialState,
  reduce,
  serializeState,
  type AgentEvent,
  type AgentwireState,
  type ClientFrame,
  type SubscribeItem,
  type SubscribeResult,
} from 'agentwire/protocol'

export interface FakeGatewayOptions {
  /** Tokens accepted in `hello`; undefined accepts any (and none). */
  acceptToken?: (token: string | undefined) => boolean
  /** Do not answer `hello` (N7: handshake stall). */
  withholdWelcome?: boolean
  /** Events kept per channel for replay. @default 1000 */
  window?: number
  /** The URL to serve; a fresh one by default. */
  url?: string
  /** Limits announced in `welcome.limits` (e.g. `{ maxPayload: 65536 }`); none by default. */
  limits?: Record<string, number>
  /** Called for every frame before the gateway handles it; return false to swallow it. */
  onFrame?: (frame: ClientFrame, connection: FakeConnection) => boolean | void
}

export interface FakeConnection {
  readonly index: number
  /** Every frame this connection sent, parsed. */
  readonly frames: ClientFrame[]
  readonly subscriptions: Set<string>
  open: boolean
  send(frame: unknown): void
  sendRaw(text: string): void
  close(code: number, reason?: string): void
}

interface ChannelLog {
  epoch: string
  head: number
  events: { seq: number; event: AgentEvent; time: number }[]
  state: AgentwireState
}

let nextPort = 1
/** A URL no other fake gateway serves. */
export function fakeUrl(): string {
  return `ws://fake-gateway-${nextPort++}.test/ws`
}

export function createFakeGateway(options: FakeGatewayOptions = {}) {
  // mock-socket routes by URL across the whole process: one URL per gateway.
  const url = options.url ?? fakeUrl()
  const server = new Server(url)
  const connections: FakeConnection[] = []
  const logs = new Map<string, ChannelLog>()
  /** How many times each command id was applied (exactly once is the promise). */
  const applied = new Map<string, number>()
  /** The commands applied, in order. */
  const appliedCommands: ClientFrame[] = []
  const window = options.window ?? 1000
  let silent = false
  let epochCounter = 1
  let opts = options

  const log = (channel: string): ChannelLog => {
    let l = logs.get(channel)
    if (!l) logs.set(channel, (l = { epoch: `e${epochCounter}`, head: 0, events: [], state: initialState() }))
    return l
  }

  server.on('connection', (socket) => {
    const connection: FakeConnection = {
      index: connections.length,
      frames: [],
      subscriptions: new Set(),
      open: true,
      send(frame) {
        if (connection.open && !silent) socket.send(JSON.stringify(frame))
      },
      sendRaw(text) {
        if (connection.open) socket.send(text)
      },
      close(code, reason = '') {
        if (!connection.open) return
        connection.open = false
        socket.close({ code, reason, wasClean: code !== 1006 })
      },
    }
    connections.push(connection)
    socket.on('close', () => {
      connection.open = false
    })
    socket.on('message', (data) => {
      if (silent || !connection.open) return
      let frame: ClientFrame
      try {
        frame = JSON.parse(String(data)) as ClientFrame
      } catch {
        return connection.close(4400, 'bad json')
      }
      connection.frames.push(frame)
      if (opts.onFrame?.(frame, connection) === false) return
      handle(frame, connection)
    })
  })

  function handle(frame: ClientFrame, c: FakeConnection): void {
    switch (frame.type) {
      case 'hello': {
        if (opts.acceptToken && !opts.acceptToken(frame.token)) return c.close(4401, 'token refused')
        if (opts.withholdWelcome) return
        const results = (frame.resume ?? []).map((item) => subscribeResult(item, c))
        c.send({ type: 'welcome', v: 1, session: `s${c.index}`, heartbeatMs: 25_000, ...(opts.limits ? { limits: opts.limits } : {}), subscriptions: results })
        for (const item of frame.resume ?? []) catchUp(item, c)
        return
      }
      case 'subscribe': {
        const results = frame.channels.map((item) => subscribeResult(item, c))
        c.send({ type: 'reply', id: frame.id, ok: true, result: { subscriptions: results } })
        for (const item of frame.channels) catchUp(item, c)
        return
      }
      case 'unsubscribe':
        for (const ch of frame.channels) c.subscriptions.delete(ch)
        c.send({ type: 'reply', id: frame.id, ok: true })
        return
      case 'ping':
        c.send({ type: 'pong', ...(frame.t === undefined ? {} : { t: frame.t }) })
        return
      case 'pong':
        return
      case 'rejoin': {
        const channel = `request:${frame.requestId}`
        const l = log(channel)
        c.subscriptions.add(channel)
        apply(frame)
        c.send({ type: 'state', channel, epoch: l.epoch, seq: l.head, reason: 'rejoin', requestId: frame.requestId, state: serializeState(l.state) })
        c.send({ type: 'reply', id: frame.id, ok: true })
        return
      }
      default:
        if ('id' in frame && typeof frame.id === 'string') {
          apply(frame)
          c.send({ type: 'reply', id: frame.id, ok: true, result: { applied: applied.get(frame.id) } })
        }
    }
  }

  function apply(frame: ClientFrame): void {
    const id = (frame as { id?: string }).id
    if (id === undefined) return
    // Idempotency by id: a re-sent command is answered again but applied once.
    const count = applied.get(id) ?? 0
    if (count === 0) appliedCommands.push(frame)
    applied.set(id, count === 0 ? 1 : count)
  }

  function subscribeResult(item: SubscribeItem, c: FakeConnection): SubscribeResult {
    c.subscriptions.add(item.channel)
    if (item.channel.endsWith('*')) return { ok: true, channel: item.channel, recovered: true }
    const l = log(item.channel)
    const position = item.resume?.find((p) => p.channel === item.channel)
    return { ok: true, channel: item.channel, recovered: position !== undefined && canReplay(l, position.epoch, position.seq) }
  }

  function canReplay(l: ChannelLog, epoch: string, seq: number): boolean {
    if (epoch !== l.epoch || seq > l.head) return false
    const oldest = l.events[0]?.seq ?? l.head + 1
    return seq >= oldest - 1
  }

  /** After a subscribe: replay from the client's position, or a snapshot. */
  function catchUp(item: SubscribeItem, c: FakeConnection): void {
    const channels = item.channel.endsWith('*') ? [...logs.keys()].filter((ch) => channelMatches(item.channel, ch)) : [item.channel]
    for (const channel of channels) {
      const l = log(channel)
      const position = item.resume?.find((p) => p.channel === channel)
      if (position && canReplay(l, position.epoch, position.seq)) {
        for (const e of l.events) if (e.seq > position.seq) c.send({ type: 'event', channel, epoch: l.epoch, seq: e.seq, time: e.time, event: e.event })
      } else {
        const reason = position === undefined ? 'initial' : position.epoch !== l.epoch ? 'epoch' : 'window'
        c.send({ type: 'state', channel, epoch: l.epoch, seq: l.head, reason, state: serializeState(l.state) })
      }
    }
  }

  return {
    url,
    server,
    connections,
    applied,
    appliedCommands,
    /** The newest connection. */
    get current(): FakeConnection | undefined {
      return connections.at(-1)
    },
    get openConnections(): FakeConnection[] {
      return connections.filter((c) => c.open)
    },
    set(next: FakeGatewayOptions) {
      opts = { ...opts, ...next }
    },
    /** Appends an event to the channel's log and sends it to every subscribed connection. */
    publish(channel: string, event: AgentEvent, time = Date.now()): number {
      const l = log(channel)
      const seq = ++l.head
      l.events.push({ seq, event, time })
      if (l.events.length > window) l.events.shift()
      l.state = reduce(l.state, event)
      for (const c of connections) {
        if (!c.open) continue
        if ([...c.subscriptions].some((s) => channelMatches(s, channel))) c.send({ type: 'event', channel, epoch: l.epoch, seq, time, event })
      }
      return seq
    },
    /** The log was lost: a new epoch, positions restart. */
    newEpoch(channel: string) {
      const l = log(channel)
      l.epoch = `e${++epochCounter}`
      l.head = 0
      l.events = []
    },
    head(channel: string) {
      return log(channel).head
    },
    epoch(channel: string) {
      return log(channel).epoch
    },
    /** Black hole: nothing goes either way, sockets stay open. */
    silence(on = true) {
      silent = on
    },
    /** Every frame of a type the client sent, across connections. */
    framesOf<T extends ClientFrame['type']>(type: T, connection?: FakeConnection): Extract<ClientFrame, { type: T }>[] {
      const source = connection ? [connection] : connections
      return source.flatMap((c) => c.frames.filter((f): f is Extract<ClientFrame, { type: T }> => f.type === type))
    },
    /** Channels a connection asked for, in hello and subscribe frames. */
    subscribedChannels(connection: FakeConnection): string[] {
      return connection.frames.flatMap((f) => (f.type === 'hello' ? (f.resume ?? []).map((i) => i.channel) : f.type === 'subscribe' ? f.channels.map((i) => i.channel) : []))
    },
    stop() {
      server.stop()
    },
  }
}

export type FakeGateway = ReturnType<typeof createFakeGateway>

export const agentStatus = (name: string, status: 'available' | 'busy' | 'offline' = 'busy', load?: number): AgentEvent => ({
  type: 'agent.status',
  payload: { name, status, ...(load === undefined ? {} : { load }) },
})
