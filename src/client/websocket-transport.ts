import type { WireFrame } from 'agentwire/protocol'
import type { Transport, TransportConnection, TransportHandlers, WebSocketConstructor, WebSocketLike } from './types'

const NO_WEBSOCKET =
  'agentwire: no WebSocket constructor in this runtime. Pass one as options.WebSocket ' +
  "(e.g. `import WebSocket from 'ws'`), or use createNodeClient from 'agentwire/node'."

/** The part of `ws`'s EventEmitter surface the transport uses. */
interface NodeSocket {
  on(type: 'message', listener: (data: unknown, isBinary?: boolean) => void): unknown
  off(type: 'message', listener: (data: unknown, isBinary?: boolean) => void): unknown
}

/** The WebSocket to use: the one passed, else the global one; throws at once with what to do when there is none. */
export function resolveWebSocket(WebSocket?: WebSocketConstructor): WebSocketConstructor {
  const Ctor = WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  if (typeof Ctor !== 'function') throw new TypeError(NO_WEBSOCKET)
  return Ctor
}

/**
 * The default transport: one WHATWG-style WebSocket per connection (browsers', `ws`'s,
 * mock-socket's). Text frames only; a binary frame is handed on as it came and the codec
 * rejects it as a protocol error. After `close()` the socket's late events are not reported.
 */
export function webSocketTransport(WebSocket?: WebSocketConstructor): Transport {
  const Ctor = resolveWebSocket(WebSocket)
  return {
    name: 'websocket',
    connect(url: string, handlers: TransportHandlers): TransportConnection {
      const socket: WebSocketLike = new Ctor(url)
      let done = false
      const finish = (code: number, reason: string) => {
        if (done) return
        done = true
        handlers.onClose(code, reason)
      }
      socket.onopen = () => {
        if (!done) handlers.onOpen()
      }
      // `ws` (Node) wraps every message in a MessageEvent for `onmessage`; its own 'message'
      // event hands over the payload as is, which is what the receive path wants per frame.
      // Only `ws` has binaryType 'nodebuffer'; a text frame is then a Buffer, turned into the
      // same string `onmessage` would carry.
      const node = socket.binaryType === 'nodebuffer' && typeof (socket as Partial<NodeSocket>).on === 'function' ? (socket as WebSocketLike & NodeSocket) : undefined
      const onMessage = (data: unknown, isBinary?: boolean) => {
        if (!done) handlers.onFrame(isBinary || typeof data === 'string' ? data : (data as { toString(): string }).toString())
      }
      if (node) node.on('message', onMessage)
      else
        socket.onmessage = (ev) => {
          if (!done) handlers.onFrame(ev.data)
        }
      socket.onerror = (ev) => {
        if (!done) handlers.onError?.(ev)
      }
      socket.onclose = (ev) => finish(typeof ev.code === 'number' ? ev.code : 1006, typeof ev.reason === 'string' ? ev.reason : '')
      return {
        send(frame: WireFrame) {
          socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
        },
        close(code?: number, reason?: string) {
          // The caller has moved on: this socket's own close event is no longer news.
          done = true
          socket.onopen = socket.onmessage = socket.onclose = null
          node?.off('message', onMessage)
          // Not null: `ws` emits 'error' when a connecting socket is closed, and an EventEmitter
          // with no 'error' listener throws it.
          socket.onerror = () => {}
          try {
            socket.close(code, reason)
          } catch {
            // Browsers throw for codes outside 1000/3000–4999; the socket is abandoned anyway.
            try {
              socket.close()
            } catch {
              /* already closed */
            }
          }
        },
        get bufferedAmount() {
          return socket.bufferedAmount ?? 0
        },
      }
    },
  }
}
