import { CloseCode, forge, forgeEndpointsFor, type Codec, type DecodeResult, type EncodeResult, type ForgeEndpoint } from 'agentwire/protocol'
import type { ClientFrame, WireFrame } from 'agentwire/protocol'
import { realClock } from '../clock'
import type { Clock, TimerHandle, Transport, TransportConnection, TransportHandlers, WebSocketConstructor, WebSocketLike } from '../types'
import { resolveWebSocket } from '../websocket-transport'

/**
 * The forge backend's five endpoints (`/ws/agents`, `/ws/tasks`, `/ws/knowledge`,
 * `/ws/metrics`, `/ws/dashboard`) as one connection with one state.
 *
 * - **Which endpoints**: the ones the client's subscriptions need (`forgeEndpointsFor`). The
 *   paired codec ({@link ForgeTransport.codec}, the forge codec plus subscriptions) turns each
 *   subscribe/unsubscribe into a control frame this transport interprets: it opens the missing
 *   endpoints and answers the subscribe once they are open, so `subscription.ready` means the
 *   events are really flowing; it closes endpoints no subscription needs any more.
 * - **One state**: `onOpen` once every endpoint the subscriptions need is open (on a first
 *   connect with no subscriptions yet, at once). A drop of any endpoint closes them all and
 *   reports one close: the client reconnects the whole set and emits `resync` for every
 *   channel. Reconnecting only the dropped endpoint would not save that resync (forge keeps no
 *   log to replay from), and two states for one connection is what this transport is for avoiding.
 * - **Liveness**: forge's text heartbeat runs per endpoint here: after `intervalMs` of silence
 *   an endpoint gets a text `ping`; one that says nothing within `timeoutMs` more is dead, and
 *   the connection closes with 4440 (retryable). The client's own pings are answered by the
 *   transport, which vouches for every endpoint.
 *
 * One transport per client: it remembers the channels across reconnects.
 */
export interface ForgeTransportOptions {
  /** @default globalThis.WebSocket */
  WebSocket?: WebSocketConstructor
  /**
   * Ping an endpoint after this much silence from it.
   * @default 25000
   */
  intervalMs?: number
  /**
   * Declare an endpoint dead this long after its ping went unanswered.
   * @default 10000
   */
  timeoutMs?: number
  /**
   * The URL of one endpoint, from the client's URL (the server's origin, e.g. `ws://host:8000`).
   * @default the endpoint's path on the client URL's origin
   */
  endpointUrl?: (url: string, endpoint: ForgeEndpoint) => string
  /** @default the real clock */
  clock?: Clock
}

export interface ForgeTransport extends Transport {
  /** The forge codec, with subscriptions made by opening endpoints: pass it as `dialect`. */
  readonly codec: Codec<string>
  /** Endpoints open right now. */
  readonly endpoints: readonly ForgeEndpoint[]
}

/** The control frames the paired codec sends down to this transport (never on the wire). */
interface Control {
  $forge: 'subscribe' | 'unsubscribe'
  id: string
  channels: string[]
}
const CONTROL_PREFIX = '{"$forge":'
const PING = '{"type":"ping"}'
/** The `type` of a JSON text frame, read without parsing it (the codec parses it once, later). */
const TYPE = /^\s*\{\s*"type"\s*:\s*"([^"\\]{1,64})"/
/** The event types /ws/dashboard repeats, by the endpoint that carries them first. */
const REPEATED_ON_DASHBOARD: Readonly<Record<string, ForgeEndpoint>> = {
  agent_created: '/ws/agents',
  agent_updated: '/ws/agents',
  status_changed: '/ws/agents',
  agent_deleted: '/ws/agents',
  task_started: '/ws/tasks',
  task_progress: '/ws/tasks',
  task_completed: '/ws/tasks',
  task_failed: '/ws/tasks',
  node_added: '/ws/knowledge',
  edge_added: '/ws/knowledge',
  knowledge_updated: '/ws/knowledge',
}
const PONG = '{"type":"pong"}'

/** `dialects.forge`, except that subscriptions are made (and answered) by the transport. */
function forgeSubscriptionCodec(): Codec<string> {
  // The codec itself, not the `dialects` table: that would bring every seed codec along.
  const base = forge
  return {
    name: 'forge',
    // The transport answers each subscribe once its endpoints are open: `ready` means flowing.
    capabilities: { ...base.capabilities, serverSubscribe: true, replies: true },
    decode(frame: unknown): DecodeResult {
      if (typeof frame === 'string' && frame.startsWith('{"$forge":"reply"')) {
        const { id } = JSON.parse(frame) as { id: string }
        return { ok: true, messages: [{ type: 'reply', id, ok: true }] }
      }
      return base.decode(frame)
    },
    encode(command: ClientFrame): EncodeResult<string> {
      if (command.type === 'subscribe' || command.type === 'unsubscribe') {
        const channels = command.type === 'subscribe' ? command.channels.map((c) => c.channel) : command.channels
        const control: Control = { $forge: command.type, id: command.id, channels }
        return { ok: true, frame: JSON.stringify(control) }
      }
      return base.encode(command) as EncodeResult<string>
    },
  }
}

export function forgeTransport(options: ForgeTransportOptions = {}): ForgeTransport {
  const clock = options.clock ?? realClock
  const intervalMs = options.intervalMs ?? 25_000
  const timeoutMs = options.timeoutMs ?? 10_000
  const endpointUrl = options.endpointUrl ?? ((url: string, endpoint: ForgeEndpoint) => new URL(endpoint, url).toString())
  /** Channels the client wants, remembered across connections so a reconnect opens them before `onOpen`. */
  const wanted = new Set<string>()
  let open: ForgeEndpoint[] = []

  return {
    name: 'forge',
    codec: forgeSubscriptionCodec(),
    get endpoints() {
      return open
    },
    connect(url: string, handlers: TransportHandlers): TransportConnection {
      const Ctor = resolveWebSocket(options.WebSocket)
      interface Link {
        socket: WebSocketLike
        open: boolean
        lastHeard: number
        pingSentAt: number | undefined
      }
      const links = new Map<ForgeEndpoint, Link>()
      let done = false
      let opened = false
      let timer: TimerHandle | undefined
      /** Subscribe replies waiting for their endpoints to open. */
      let pendingReplies: string[] = []
      /**
       * Frames from the endpoints that opened first (their backlog), held until every endpoint
       * is open: delivered before `onOpen`, they would come ahead of the reconnect's `resync`.
       */
      let early: unknown[] = []

      const publishOpen = () => {
        open = [...links].filter(([, l]) => l.open).map(([e]) => e)
      }
      const needed = () => forgeEndpointsFor([...wanted.keys()])
      const allOpen = () => needed().every((e) => links.get(e)?.open === true)

      const finish = (code: number, reason: string): void => {
        if (done) return
        done = true
        teardown()
        handlers.onClose(code, reason)
      }
      const teardown = (): void => {
        if (timer !== undefined) clock.clearTimeout(timer)
        timer = undefined
        for (const link of links.values()) detach(link.socket, CloseCode.Normal)
        links.clear()
        publishOpen()
      }
      const detach = (socket: WebSocketLike, code: number): void => {
        socket.onopen = socket.onmessage = socket.onclose = null
        socket.onerror = () => {}
        try {
          socket.close(code)
        } catch {
          /* already closed */
        }
      }

      const settle = (): void => {
        if (done || !allOpen()) return
        if (!opened) {
          opened = true
          handlers.onOpen()
          const held = early
          early = []
          for (const frame of held) if (!done) handlers.onFrame(frame)
        }
        const replies = pendingReplies
        pendingReplies = []
        for (const id of replies) handlers.onFrame(JSON.stringify({ $forge: 'reply', id }))
      }

      const openEndpoint = (endpoint: ForgeEndpoint): void => {
        if (links.has(endpoint)) return
        const socket = new Ctor(endpointUrl(url, endpoint))
        const link: Link = { socket, open: false, lastHeard: clock.now(), pingSentAt: undefined }
        links.set(endpoint, link)
        socket.onopen = () => {
          link.open = true
          link.lastHeard = clock.now()
          publishOpen()
          settle()
        }
        socket.onmessage = (ev) => {
          if (done) return
          link.lastHeard = clock.now()
          link.pingSentAt = undefined
          const data = ev.data
          if (data === 'pong') return
          if (data === 'ping') return socket.send('pong')
          if (typeof data === 'string') {
            const type = TYPE.exec(data)?.[1]
            // A ping is answered on the endpoint that asked, not on all five.
            if (type === 'ping') return socket.send(PONG)
            // /ws/dashboard repeats the entity events of the other endpoints: taken from there
            // only while their own endpoint is not wanted. One still opening gets them from the
            // server's backlog for it, so a copy taken meanwhile would arrive twice.
            if (endpoint === '/ws/dashboard' && type !== undefined) {
              const own = REPEATED_ON_DASHBOARD[type]
              if (own !== undefined && links.has(own)) return
            }
          }
          if (!opened) early.push(data)
          else handlers.onFrame(data)
        }
        socket.onerror = (ev) => {
          if (!done) handlers.onError?.(ev)
        }
        socket.onclose = (ev) => {
          // One endpoint down is the connection down: see the header.
          finish(typeof ev.code === 'number' ? ev.code : CloseCode.Abnormal, `${endpoint}: ${typeof ev.reason === 'string' && ev.reason !== '' ? ev.reason : 'closed'}`)
        }
      }

      const closeEndpoint = (endpoint: ForgeEndpoint): void => {
        const link = links.get(endpoint)
        if (!link) return
        links.delete(endpoint)
        detach(link.socket, CloseCode.Normal)
        publishOpen()
      }

      const reconcile = (): void => {
        const need = needed()
        for (const endpoint of need) openEndpoint(endpoint)
        for (const endpoint of [...links.keys()]) if (!need.includes(endpoint)) closeEndpoint(endpoint)
      }

      const check = (): void => {
        timer = undefined
        if (done) return
        const now = clock.now()
        for (const [endpoint, link] of links) {
          if (!link.open) continue
          if (link.pingSentAt !== undefined && now - link.pingSentAt >= timeoutMs) {
            return finish(CloseCode.HeartbeatTimeout, `${endpoint}: no pong within ${timeoutMs} ms`)
          }
          if (link.pingSentAt === undefined && now - link.lastHeard >= intervalMs) {
            link.pingSentAt = now
            link.socket.send('ping')
          }
        }
        timer = clock.setTimeout(check, Math.max(1, Math.min(intervalMs, timeoutMs) / 2))
      }

      reconcile()
      timer = clock.setTimeout(check, Math.max(1, Math.min(intervalMs, timeoutMs) / 2))
      // With nothing to open, the connection is open now (after the caller has its handle).
      if (links.size === 0) queueMicrotask(settle)

      return {
        send(frame: WireFrame): void {
          if (done || typeof frame !== 'string') return
          if (frame === PING) {
            queueMicrotask(() => {
              if (!done) handlers.onFrame(PONG)
            })
            return
          }
          if (frame.startsWith(CONTROL_PREFIX)) {
            const control = JSON.parse(frame) as Control
            // The client ref-counts its subscriptions: a channel goes on the wire once per connection.
            for (const channel of control.channels) {
              if (control.$forge === 'subscribe') wanted.add(channel)
              else wanted.delete(channel)
            }
            reconcile()
            if (control.$forge === 'subscribe') {
              pendingReplies.push(control.id)
              settle()
            }
            return
          }
          // A server's JSON ping is answered by the transport on its own endpoint; anything else
          // the forge codec encodes has no endpoint of its own.
          if (frame === PONG) return
          for (const link of links.values()) if (link.open) link.socket.send(frame)
        },
        close(code?: number): void {
          if (done) return
          done = true
          void code
          teardown()
        },
        get bufferedAmount(): number {
          let n = 0
          for (const link of links.values()) n += link.socket.bufferedAmount ?? 0
          return n
        },
      }
    },
  }
}
