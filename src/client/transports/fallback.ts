import { CloseCode } from 'agentwire/protocol'
import type { WireFrame } from 'agentwire/protocol'
import { realClock } from '../clock'
import type { Clock, TimerHandle, Transport, TransportConnection, TransportHandlers, WebSocketConstructor, WebSocketLike } from '../types'
import { resolveWebSocket, webSocketTransport } from '../websocket-transport'
import { httpTransport, type HttpTransportOptions } from './http'

/** Which link the fallback transport uses for its next connection. */
export type FallbackMode = 'websocket' | 'http'

export interface FallbackTransportOptions {
  /**
   * The WebSocket constructor.
   * @default globalThis.WebSocket
   */
  WebSocket?: WebSocketConstructor
  /**
   * WebSocket attempts in a row that fail before opening (a proxy refusing the upgrade answers
   * 403 or closes: the browser shows only a failure) after which the same attempt goes on over HTTP.
   * @default 2
   */
  failuresBeforeFallback?: number
  /**
   * While on HTTP, probe a WebSocket this often; when one opens, the HTTP connection is
   * closed with 1012 and the client reconnects over the WebSocket, resuming every channel from
   * its last position (so nothing is lost or seen twice).
   * @default 30000
   */
  upgradeAfterMs?: number
  /** Options of the HTTP transport used while the WebSocket is unavailable. @default {} */
  http?: HttpTransportOptions
  /** @default the real clock */
  clock?: Clock
  /** Told whenever the link changes. @default none */
  onModeChange?: (mode: FallbackMode) => void
}

export interface FallbackTransport extends Transport {
  /** The link the current (or next) connection uses. */
  readonly mode: FallbackMode
}

/** The close code an upgrade back to WebSocket uses: retryable, so the client reconnects at once over the new link. */
export const UPGRADE_CLOSE_CODE = CloseCode.ServiceRestart
export const UPGRADE_CLOSE_REASON = 'upgrading to WebSocket'

/**
 * A WebSocket first, the HTTP fallback when WebSockets cannot get through, and back to the
 * WebSocket when they can again. The client above it sees one transport: same frames, same
 * store; an upgrade back is one resumed reconnect (state `open → reconnecting → open`, every
 * channel resumed from its last position), never a gap or a duplicate.
 *
 * Detection is by outcome, because a browser hides the HTTP status of a refused upgrade:
 * `failuresBeforeFallback` WebSocket attempts in a row that close before opening move the
 * link to HTTP within the same connect. When HTTP fails before opening too (the server is
 * simply down), the next connect tries the WebSocket first again.
 */
export function fallbackTransport(options: FallbackTransportOptions = {}): FallbackTransport {
  const clock = options.clock ?? realClock
  const threshold = Math.max(1, options.failuresBeforeFallback ?? 2)
  const upgradeAfterMs = options.upgradeAfterMs ?? 30_000
  const http = httpTransport(options.http)
  let mode: FallbackMode = 'websocket'
  let failures = 0
  const setMode = (next: FallbackMode): void => {
    if (next === mode) return
    mode = next
    options.onModeChange?.(next)
  }

  return {
    name: 'fallback',
    get mode() {
      return mode
    },
    connect(url: string, handlers: TransportHandlers): TransportConnection {
      let current: TransportConnection | undefined
      let closed = false
      let probeTimer: TimerHandle | undefined
      let probe: WebSocketLike | undefined

      const stopProbing = (): void => {
        if (probeTimer !== undefined) clock.clearTimeout(probeTimer)
        probeTimer = undefined
        if (probe) {
          const p = probe
          probe = undefined
          p.onopen = p.onclose = null
          // Not null: `ws` emits 'error' when a connecting socket is closed, and an emitter without a listener throws it.
          p.onerror = () => {}
          try {
            p.close()
          } catch {
            /* already closed */
          }
        }
      }
      const scheduleProbe = (): void => {
        probeTimer = clock.setTimeout(() => {
          probeTimer = undefined
          if (closed) return
          const p = new (resolveWebSocket(options.WebSocket))(url)
          probe = p
          p.onerror = () => undefined
          p.onopen = () => {
            probe = undefined
            p.onopen = p.onclose = p.onerror = null
            p.close(CloseCode.Normal, 'probe')
            if (closed) return
            failures = 0
            setMode('websocket')
            // The client reconnects over the WebSocket and resumes from its positions. A closed
            // connection does not report its own close, so the client hears it from here.
            closed = true
            current?.close(UPGRADE_CLOSE_CODE, UPGRADE_CLOSE_REASON)
            handlers.onClose(UPGRADE_CLOSE_CODE, UPGRADE_CLOSE_REASON)
          }
          p.onclose = () => {
            probe = undefined
            if (!closed) scheduleProbe()
          }
        }, upgradeAfterMs)
      }

      const overHttp = (): void => {
        setMode('http')
        let opened = false
        current = http.connect(url, {
          onOpen() {
            opened = true
            scheduleProbe()
            handlers.onOpen()
          },
          onFrame: (frame) => handlers.onFrame(frame),
          onError: (error) => handlers.onError?.(error),
          onClose(code, reason) {
            stopProbing()
            if (closed) return
            if (!opened) {
              // HTTP failed as well: the server is away, not the upgrade. Try the WebSocket first next time.
              failures = threshold - 1
              setMode('websocket')
            }
            handlers.onClose(code, reason)
          },
        })
      }

      const overWebSocket = (): void => {
        let opened = false
        current = webSocketTransport(options.WebSocket).connect(url, {
          onOpen() {
            opened = true
            failures = 0
            handlers.onOpen()
          },
          onFrame: (frame) => handlers.onFrame(frame),
          onError: (error) => handlers.onError?.(error),
          onClose(code, reason) {
            if (closed) return
            if (!opened && ++failures >= threshold) return overHttp()
            handlers.onClose(code, reason)
          },
        })
      }

      if (mode === 'http') overHttp()
      else overWebSocket()

      return {
        send: (frame) => current?.send(frame),
        // Like every transport: after close() nothing more is reported.
        close(code, reason) {
          closed = true
          stopProbing()
          current?.close(code, reason)
        },
        get bufferedAmount() {
          return current?.bufferedAmount ?? 0
        },
      }
    },
  }
}
