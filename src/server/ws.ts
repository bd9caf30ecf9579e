import { isUtf8 } from 'node:buffer'
import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocket, WebSocketServer } from 'ws'
import type { GatewayCore } from './core'
import type { GatewayConnection, GatewaySocket } from './connection'
import { acceptMux } from './mux'
import type { GatewayLogger } from './options'

export interface WebSocketBindingOptions {
  /** @default '/ws' */
  path?: string
  /** Exact-match Origin allowlist; `undefined` allows any. @default undefined */
  allowedOrigins?: readonly string[]
  /** @default true */
  allowMissingOrigin?: boolean
  /** Answer upgrades on other paths with 404 (when the gateway owns the server); otherwise leave them to other listeners. @default false */
  ownsServer?: boolean
  logger?: GatewayLogger
}

export interface WebSocketBinding {
  /** Stops handling upgrades on the server. */
  detach(): void
}

/**
 * Binds the gateway core to `ws` on an HTTP server's `upgrade` event. Origin and the pending
 * handshake cap are checked before the upgrade, so a refused browser never gets a 101.
 * permessage-deflate stays off (memory, and CRIME/BREACH-style leaks), and `maxPayload` is the
 * gateway's, not ws's 100 MiB default.
 */
export function bindWebSocket(server: Server, core: GatewayCore, options: WebSocketBindingOptions = {}): WebSocketBinding {
  const path = options.path ?? '/ws'
  const allowed = options.allowedOrigins ? new Set(options.allowedOrigins) : undefined
  const allowMissingOrigin = options.allowMissingOrigin ?? true
  const log = options.logger ?? (() => undefined)
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: core.limits.maxPayload,
    clientTracking: false,
    // Checked here with the native isUtf8 so bad text is closed as a bad frame (4400) like any other.
    skipUTF8Validation: true,
    // No subprotocol is ever selected: ws would echo the first one offered, and some clients put
    // a bearer token there. Tokens travel in `hello`, never in a header that is echoed or logged.
    handleProtocols: () => false,
    WebSocket: GatewayWebSocket,
  })

  function onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const pathname = (request.url ?? '/').split('?')[0]
    if (pathname !== path) {
      if (options.ownsServer) refuse(socket, 404, 'Not Found')
      return
    }
    if (allowed) {
      const origin = request.headers.origin
      const ok = origin === undefined ? allowMissingOrigin : allowed.has(origin)
      if (!ok) {
        core.drop('origin')
        log({ level: 'warn', message: 'origin refused', data: { present: origin !== undefined } })
        return refuse(socket, 403, 'Forbidden')
      }
    }
    if (!core.canAccept()) {
      core.drop('pending_handshakes')
      return refuse(socket, 503, 'Service Unavailable')
    }
    wss.handleUpgrade(request, socket, head, (ws) => accept(ws, request, socket))
  }

  function accept(ws: WebSocket, request: IncomingMessage, raw: Duplex): void {
    const handshake = { headers: request.headers, remoteAddress: request.socket.remoteAddress, url: request.url, request }
    // `?mux=1`: the tabs of one browser sharing this socket, one logical connection each (./mux).
    const mux = /[?&]mux=1(&|$)/.test(request.url ?? '')
    const connection = mux ? acceptMux(core, new WsSocket(ws, raw), handshake) : core.accept(new WsSocket(ws, raw), handshake)
    if (!connection) return
    const bound = ws as GatewayWebSocket
    bound.connection = connection
    bound.binding = events
  }

  const events: BindingEvents = {
    error(connection, error) {
      // ws closes the socket itself (1009 for too big, 1002/1008 for broken framing); we count it.
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') core.drop('message_too_big')
      else core.drop('bad_frame')
      log({ level: 'warn', message: 'websocket error', data: { session: connection.session, code: error.code ?? 'unknown' } })
    },
  }

  server.on('upgrade', onUpgrade)
  return {
    detach() {
      server.off('upgrade', onUpgrade)
      wss.close()
    },
  }
}

/** What the binding does with a socket's error; one for all its sockets. */
interface BindingEvents {
  error(connection: GatewayConnection, error: Error & { code?: string }): void
}

/**
 * The binding's WebSocket: the connection rides on it as a field, and its events go straight
 * to the connection rather than through listeners. Four listeners per socket made ws keep an
 * events table of ~250 bytes in dictionary mode, and a property added after construction a
 * properties array of its own; at thousands of idle sockets these are a good part of what the
 * gateway holds beyond ws itself. Before it is bound (or when it never is) it is a plain ws socket.
 */
class GatewayWebSocket extends WebSocket {
  connection: GatewayConnection | undefined = undefined
  binding: BindingEvents | undefined = undefined

  // ws emits 'message' (data, isBinary), 'pong' (data), 'close' (code, reason), 'error' (error).
  override emit(event: string | symbol, a?: unknown, b?: unknown): boolean {
    const connection = this.connection
    if (connection === undefined) return b === undefined ? (a === undefined ? super.emit(event) : super.emit(event, a)) : super.emit(event, a, b)
    switch (event) {
      case 'message': {
        const data = a as Buffer
        if (b) connection.receive({ kind: 'binary', bytes: data.length })
        else if (!isUtf8(data)) connection.receive({ kind: 'invalid_utf8', bytes: data.length })
        else connection.receive(data.toString('utf8'))
        return true
      }
      case 'pong':
        connection.pong()
        return true
      case 'close':
        connection.closed()
        return true
      case 'error':
        this.binding?.error(connection, a as Error & { code?: string })
        return true
      default:
        return super.emit(event, a, b)
    }
  }
}

/**
 * A `ws` WebSocket as the core's GatewaySocket. A class, not an object literal: V8 keeps a
 * literal with a getter (`bufferedAmount`) in dictionary mode, ~450 bytes per connection.
 *
 * Sends within one tick are written together: corking is the biggest lever on fan-out
 * throughput. What is corked in this tick is not backlog yet (it reaches the kernel at the
 * uncork), so `bufferedAmount` reports only what earlier ticks left behind: a replay burst is
 * never mistaken for a slow consumer.
 */
class WsSocket implements GatewaySocket {
  private corked = false
  private corkedBytes = 0
  constructor(
    private readonly ws: WebSocket,
    private readonly raw: Duplex,
  ) {}
  send(text: string): void {
    const ws = this.ws
    if (ws.readyState !== ws.OPEN) return
    if (!this.corked) {
      this.corked = true
      this.raw.cork()
      process.nextTick(uncork, this)
    }
    this.corkedBytes += text.length
    ws.send(text)
  }
  close(code: number, reason: string): void {
    this.ws.close(code, reason)
  }
  terminate(): void {
    this.ws.terminate()
  }
  ping(): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.ping()
  }
  get bufferedAmount(): number {
    return Math.max(0, this.ws.bufferedAmount - this.corkedBytes)
  }
  uncork(): void {
    this.corked = false
    this.corkedBytes = 0
    this.raw.uncork()
  }
}
const uncork = (socket: WsSocket) => socket.uncork()

function refuse(socket: Duplex, status: number, text: string): void {
  socket.on('error', () => undefined)
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`)
}
