import { isUtf8 } from 'node:buffer'
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { CloseCode, trimCloseReason } from 'agentwire/protocol'
import type { GatewayConnection, GatewaySocket } from './connection'
import type { GatewayCore } from './core'

/**
 * The HTTP fallback's server half: the native protocol over server-sent events down and POST
 * up, for clients behind a proxy that refuses WebSocket upgrades (the webgui seed's "graceful
 * degradation to polling"). Each SSE stream is one more {@link GatewaySocket} for the same
 * gateway core, so authentication, authorization, limits, replay and commands are the
 * WebSocket's, frame for frame; the client's `fallbackTransport` speaks the other half.
 *
 * - `GET {path}/sse` → `text/event-stream`: `event: open` with `{"session":"<id>"}`, then one
 *   `data:` message per server frame, and `event: close` with `{"code","reason"}` at the end.
 *   A comment every `keepAliveMs` keeps idle proxies from cutting the stream.
 * - `POST {path}/send?session=<id>`, `text/plain`: client frames, one per line. `204`; `404` for
 *   an unknown session; `413` when a line passes the gateway's `maxPayload` (the session is then
 *   closed with 1009, as a WebSocket would be).
 * - The session id is a random UUID known only to the stream's reader; the token still travels
 *   only in `hello`.
 *
 * Why SSE + POST rather than long-polling: one open response carries every server frame as it
 * happens (no re-request per batch, no reordering across polls), and a POST per client batch
 * keeps the up direction simple; both pass proxies that refuse only the upgrade.
 */
export interface HttpFallbackOptions {
  /**
   * Path prefix of the two endpoints (`{path}/sse`, `{path}/send`).
   * @default '' (so `/sse` and `/send`, beside the gateway's `/ws`)
   */
  path?: string
  /**
   * Origins allowed, exactly as the WebSocket binding checks them; anything else gets 403.
   * @default undefined: any origin
   */
  allowedOrigins?: readonly string[]
  /** @default true */
  allowMissingOrigin?: boolean
  /**
   * A comment line this often on an idle stream.
   * @default 15000 (0 turns it off)
   */
  keepAliveMs?: number
  /**
   * Largest POST body in bytes (several frames in one batch).
   * @default 1048576
   */
  maxBodyBytes?: number
}

export interface HttpFallback {
  /** The request handler: `true` when the request was one of the fallback's. Pass it as `createGateway({ http })`. */
  handle(request: IncomingMessage, response: ServerResponse): Promise<boolean>
  /** Binds the gateway core the sessions belong to (created after the handler, so bound after it). */
  bind(core: GatewayCore): void
  /** Open SSE sessions. */
  sessions(): number
  /** Ends every stream. */
  close(): void
}

interface Session {
  readonly response: ServerResponse
  readonly connection: GatewayConnection
}

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  // nginx and friends buffer responses unless told not to; an event stream must flow.
  'x-accel-buffering': 'no',
  connection: 'keep-alive',
} as const

/** One SSE message carrying `text` (a frame never holds a raw newline; split anyway, as SSE requires). */
function sseData(text: string, event?: string): string {
  const lines = text.split(/\r\n|\r|\n/).map((line) => `data: ${line}\n`)
  return `${event === undefined ? '' : `event: ${event}\n`}${lines.join('')}\n`
}

export function createHttpFallback(options: HttpFallbackOptions = {}): HttpFallback {
  const prefix = (options.path ?? '').replace(/\/$/, '')
  const allowed = options.allowedOrigins ? new Set(options.allowedOrigins) : undefined
  const allowMissingOrigin = options.allowMissingOrigin ?? true
  const keepAliveMs = options.keepAliveMs ?? 15_000
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024
  const sessions = new Map<string, Session>()
  let core: GatewayCore | undefined

  const originOk = (request: IncomingMessage): boolean => {
    if (!allowed) return true
    const origin = request.headers.origin
    return origin === undefined ? allowMissingOrigin : allowed.has(origin)
  }
  const plain = (response: ServerResponse, status: number, text: string): true => {
    response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(text)
    return true
  }

  function openStream(request: IncomingMessage, response: ServerResponse, gateway: GatewayCore): void {
    if (!gateway.canAccept()) {
      gateway.drop('pending_handshakes')
      plain(response, 503, 'Service Unavailable')
      return
    }
    const id = randomUUID()
    let ended = false
    let keepAlive: ReturnType<typeof setInterval> | undefined
    const end = (): void => {
      if (ended) return
      ended = true
      if (keepAlive) clearInterval(keepAlive)
      sessions.delete(id)
    }
    // A reader that went away may end the response before its 'close' event reaches us.
    const writable = () => !ended && !response.writableEnded && !response.destroyed
    const socket: GatewaySocket = {
      send(text) {
        if (writable()) response.write(sseData(text))
      },
      close(code, reason) {
        if (!writable()) return end()
        response.write(sseData(JSON.stringify({ code, reason: trimCloseReason(reason) }), 'close'))
        end()
        response.end()
      },
      terminate() {
        end()
        response.destroy()
      },
      // No transport-level ping over HTTP: a native ping frame, which the client answers with a
      // pong POST; any POST of the session counts as the pong (see handleSend).
      ping() {
        if (writable()) response.write(sseData('{"type":"ping"}'))
      },
      get bufferedAmount() {
        return response.writableLength + (response.socket?.writableLength ?? 0)
      },
    }
    request.socket.setTimeout(0)
    request.socket.setNoDelay(true)
    response.writeHead(200, SSE_HEADERS)
    response.write(sseData(JSON.stringify({ session: id }), 'open'))
    const connection = gateway.accept(socket, {
      headers: request.headers,
      remoteAddress: request.socket.remoteAddress,
      url: request.url,
      request,
    })
    if (!connection) {
      end()
      return
    }
    sessions.set(id, { response, connection })
    if (keepAliveMs > 0) {
      keepAlive = setInterval(() => {
        if (writable()) response.write(': keep-alive\n\n')
      }, keepAliveMs)
      keepAlive.unref?.()
    }
    response.on('close', () => {
      // The reader went away (or we ended the stream): the core forgets the connection.
      end()
      connection.closed()
    })
  }

  async function handleSend(request: IncomingMessage, response: ServerResponse, gateway: GatewayCore): Promise<void> {
    const id = new URL(request.url ?? '/', 'http://localhost').searchParams.get('session') ?? ''
    const session = sessions.get(id)
    if (!session) {
      request.resume()
      plain(response, 404, 'No such session')
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    let tooBig = false
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.length
      if (size > maxBodyBytes) {
        tooBig = true
        break
      }
      chunks.push(chunk)
    }
    if (tooBig) {
      gateway.drop('message_too_big')
      plain(response, 413, 'Payload Too Large')
      request.destroy()
      return
    }
    const body = Buffer.concat(chunks)
    // Anything from the client proves it is there: the answer to a ping the core may be waiting for.
    session.connection.pong()
    if (!isUtf8(body)) {
      session.connection.receive({ kind: 'invalid_utf8', bytes: body.length })
    } else {
      for (const line of body.toString('utf8').split('\n')) {
        if (line === '') continue
        if (Buffer.byteLength(line) > gateway.limits.maxPayload) {
          gateway.drop('message_too_big')
          closeSession(id, CloseCode.MessageTooBig, 'message too big')
          plain(response, 413, 'Payload Too Large')
          return
        }
        session.connection.receive(line)
      }
    }
    response.writeHead(204, { 'cache-control': 'no-store' }).end()
  }

  function closeSession(id: string, code: number, reason: string): void {
    const session = sessions.get(id)
    if (!session) return
    sessions.delete(id)
    if (session.response.writableEnded || session.response.destroyed) return
    session.response.write(sseData(JSON.stringify({ code, reason }), 'close'))
    session.response.end()
  }

  return {
    async handle(request, response) {
      const pathname = (request.url ?? '/').split('?')[0]
      const isSse = pathname === `${prefix}/sse` && request.method === 'GET'
      const isSend = pathname === `${prefix}/send` && request.method === 'POST'
      if (!isSse && !isSend) return false
      if (!core) return plain(response, 503, 'Service Unavailable')
      if (!originOk(request)) {
        core.drop('origin')
        request.resume()
        return plain(response, 403, 'Forbidden')
      }
      if (isSse) openStream(request, response, core)
      else await handleSend(request, response, core)
      return true
    },
    bind(next) {
      core = next
    },
    sessions: () => sessions.size,
    close() {
      for (const id of [...sessions.keys()]) closeSession(id, CloseCode.GoingAway, 'server closing')
    },
  }
}
