import type { WireFrame } from 'agentwire/protocol'
import { CloseCode } from 'agentwire/protocol'
import type { Transport, TransportConnection, TransportHandlers } from '../types'
import { createSseParser } from './sse'

/**
 * The HTTP fallback transport: the native protocol's frames over plain HTTP, for networks where
 * a proxy refuses the WebSocket upgrade (the webgui seed's "graceful degradation to polling").
 *
 * Wire (served by the gateway's `httpTransport`, see docs/BACKENDS.md):
 * - `GET {base}/sse` opens a server-sent events stream. Its first message is
 *   `event: open` / `data: {"session":"<id>"}`; every later `data:` message is one native server
 *   frame's text; a last `event: close` / `data: {"code":4503,"reason":"..."}` says why it ended.
 * - `POST {base}/send?session=<id>` with `Content-Type: text/plain` carries client frames, one
 *   per line (native frames are JSON, which never holds a raw newline). `204` when accepted,
 *   `404` when the session is gone. One POST is in flight at a time, so frames keep their order.
 * - Aborting the SSE request closes the session.
 *
 * The token still travels only in the `hello` frame (a POST body), never in a URL.
 */
export interface HttpTransportOptions {
  /**
   * Where the HTTP endpoints live, or how to derive it from the WebSocket URL.
   * @default the WebSocket URL with http(s) for ws(s) and its last path segment removed
   * (`ws://host:8787/ws` → `http://host:8787`)
   */
  url?: string | ((webSocketUrl: string) => string)
  /**
   * The fetch function; it must return a response whose body is a readable stream.
   * @default globalThis.fetch
   */
  fetch?: typeof fetch
  /**
   * Extra request headers for both directions (never put a token here; it goes in `hello`).
   * @default {}
   */
  headers?: Record<string, string>
}

/** `ws://host/ws` → `http://host`; `wss://host/a/ws` → `https://host/a`. */
export function httpBaseFor(webSocketUrl: string): string {
  const url = new URL(webSocketUrl)
  url.protocol = url.protocol === 'wss:' ? 'https:' : url.protocol === 'ws:' ? 'http:' : url.protocol
  url.pathname = url.pathname.replace(/\/[^/]*$/, '')
  url.search = ''
  url.hash = ''
  return url.toString().replace(/\/$/, '')
}

/** The close code an HTTP status on the stream stands for, so the client's retry verdict stays right. */
function closeCodeForStatus(status: number): number {
  if (status === 401) return CloseCode.Unauthorized
  if (status === 403) return CloseCode.Forbidden
  if (status === 429) return CloseCode.RateLimited
  return CloseCode.Abnormal
}

export function httpTransport(options: HttpTransportOptions = {}): Transport {
  return {
    name: 'http',
    connect(webSocketUrl: string, handlers: TransportHandlers): TransportConnection {
      const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis)
      const base = typeof options.url === 'function' ? options.url(webSocketUrl) : (options.url ?? httpBaseFor(webSocketUrl))
      const headers = options.headers ?? {}
      const abort = new AbortController()
      let session: string | undefined
      let closed = false
      let closeFrame: { code: number; reason: string } | undefined
      let queue: string[] = []
      let queuedBytes = 0
      let inFlight = false

      const finish = (code: number, reason: string): void => {
        if (closed) return
        closed = true
        queue = []
        queuedBytes = 0
        abort.abort()
        handlers.onClose(code, reason)
      }
      const fail = (error: unknown): void => {
        if (closed) return
        handlers.onError?.(error)
        finish(CloseCode.Abnormal, error instanceof Error ? error.message : String(error))
      }

      const flush = (): void => {
        if (closed || inFlight || session === undefined || queue.length === 0) return
        const body = queue.join('\n')
        queue = []
        queuedBytes = 0
        inFlight = true
        doFetch(`${base}/send?session=${encodeURIComponent(session)}`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'text/plain;charset=UTF-8' },
          body,
          signal: abort.signal,
        }).then(
          (response) => {
            inFlight = false
            void response.body?.cancel().catch(() => undefined)
            if (response.ok) return flush()
            // The session is gone (the server closed it, or restarted): this connection is over.
            finish(response.status === 404 ? CloseCode.Abnormal : closeCodeForStatus(response.status), `send failed: HTTP ${response.status}`)
          },
          (error: unknown) => {
            inFlight = false
            fail(error)
          },
        )
      }

      const read = async (): Promise<void> => {
        const response = await doFetch(`${base}/sse`, {
          headers: { ...headers, accept: 'text/event-stream' },
          cache: 'no-store',
          signal: abort.signal,
        })
        if (!response.ok || !response.body) {
          void response.body?.cancel().catch(() => undefined)
          handlers.onError?.(new Error(`HTTP fallback: GET ${base}/sse answered ${response.status}`))
          return finish(closeCodeForStatus(response.status), `HTTP ${response.status}`)
        }
        const parser = createSseParser((message) => {
          if (closed) return
          if (message.event === 'open') {
            const parsed = safeJson(message.data) as { session?: unknown } | undefined
            if (typeof parsed?.session !== 'string') return fail(new Error('HTTP fallback: the open message carries no session'))
            session = parsed.session
            handlers.onOpen()
            flush()
          } else if (message.event === 'close') {
            const parsed = safeJson(message.data) as { code?: unknown; reason?: unknown } | undefined
            closeFrame = {
              code: typeof parsed?.code === 'number' ? parsed.code : CloseCode.Abnormal,
              reason: typeof parsed?.reason === 'string' ? parsed.reason : '',
            }
          } else if (message.event === 'message') handlers.onFrame(message.data)
        })
        const reader = response.body.getReader()
        const decoder = new TextDecoder()
        for (;;) {
          const { done, value } = await reader.read()
          if (done) break
          parser.push(decoder.decode(value, { stream: true }))
          if (closed) return void reader.cancel().catch(() => undefined)
        }
        finish(closeFrame?.code ?? CloseCode.Abnormal, closeFrame?.reason ?? 'the event stream ended')
      }
      read().catch((error: unknown) => {
        if (!closed) fail(error)
      })

      return {
        send(frame: WireFrame): void {
          if (closed) return
          if (typeof frame !== 'string') {
            handlers.onError?.(new TypeError('the HTTP fallback carries text frames only'))
            return
          }
          queue.push(frame)
          queuedBytes += frame.length
          flush()
        },
        close(): void {
          if (closed) return
          // The caller has moved on: like the WebSocket transport, nothing more is reported.
          closed = true
          queue = []
          abort.abort()
        },
        get bufferedAmount(): number {
          return queuedBytes
        },
      }
    },
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}
