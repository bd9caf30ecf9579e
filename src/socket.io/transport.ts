import { io as defaultIo } from 'socket.io-client'
import type { ManagerOptions, SocketOptions } from 'socket.io-client'
import type { Transport, TransportConnection, TransportHandlers } from 'agentwire'
import { CloseCode, SOCKET_IO_ACK } from 'agentwire/protocol'
import type { SocketIoAck, WireFrame } from 'agentwire/protocol'

/** A handshake value: fixed, or asked again on every connect (a request id that changes, a fresh token). */
export type PerConnect<T> = T | (() => T)

export interface SocketIoTransportOptions {
  /**
   * The `io` function of socket.io-client. Pass your own copy when the app bundles a
   * different one, or a wrapped one in tests.
   * @default the `io` export of 'socket.io-client'
   */
  io?: typeof defaultIo
  /**
   * The handshake query, e.g. `{ requestId: 'req-123' }` for a backend built as the progress
   * seed describes (it reads `socket.handshake.query.requestId` and joins `request:{id}`).
   * @default none
   */
  query?: PerConnect<Record<string, string>>
  /**
   * The server's Socket.IO path.
   * @default '/socket.io'
   */
  path?: string
  /**
   * Socket.IO's `auth` payload (read by the server as `socket.handshake.auth`).
   * @default none
   */
  auth?: PerConnect<Record<string, unknown>>
  /**
   * Any other socket.io-client option (transports, extraHeaders, ...). `reconnection`,
   * `autoConnect` and `forceNew` are always overridden: see {@link socketIoTransport}.
   * @default {}
   */
  socketOptions?: Partial<ManagerOptions & SocketOptions>
  /**
   * How long to wait for the server's acknowledgement of an emit. Every emit carries an
   * acknowledgement callback, and its answer goes to the codec as a {@link SocketIoAck} (a room
   * join refused, a command accepted); a server that never acknowledges is taken at its word
   * after this long (`timedOut: true`), so `ready` then waits this long once per connection.
   * @default 2000
   */
  ackTimeoutMs?: number
}

/**
 * The close code a Socket.IO disconnect reason stands for. A server that disconnects us
 * (`io server disconnect`) is a restart or a drop as far as the client can tell, so it is
 * retryable (1001), unlike Socket.IO's own client, which stops reconnecting there: agentwire's
 * client owns the retry verdict and resyncs what it cannot resume.
 */
export function closeCodeForDisconnect(reason: string): number {
  switch (reason) {
    case 'io server disconnect':
      return CloseCode.GoingAway
    case 'io client disconnect':
      return CloseCode.Normal
    case 'parse error':
      return CloseCode.InvalidPayload
    default:
      // 'transport close', 'transport error', 'ping timeout': the link died under us.
      return CloseCode.Abnormal
  }
}

/**
 * A Transport over socket.io-client, for backends built as the rooms and progress seeds
 * describe. Frames are `[event, ...args]` arrays both ways: `socket.emit(...frame)` up, and
 * every incoming event as `[event, ...args]` down, for the rooms or progress codec; the
 * acknowledgement of each emit comes down too, as a {@link SocketIoAck} naming the frame.
 *
 * Socket.IO's own reconnection is off (and every connect is a new Manager): the agentwire
 * client owns reconnection, backoff and resync, and two retry loops would fight.
 */
export function socketIoTransport(options: SocketIoTransportOptions = {}): Transport {
  const io = options.io ?? defaultIo
  const ackTimeoutMs = typeof options.ackTimeoutMs === 'number' && options.ackTimeoutMs > 0 ? options.ackTimeoutMs : 2000
  return {
    name: 'socket.io',
    connect(url: string, handlers: TransportHandlers): TransportConnection {
      const query = typeof options.query === 'function' ? options.query() : options.query
      const auth = typeof options.auth === 'function' ? options.auth() : options.auth
      const socket = io(url, {
        ...options.socketOptions,
        ...(options.path === undefined ? {} : { path: options.path }),
        ...(query === undefined ? {} : { query }),
        ...(auth === undefined ? {} : { auth }),
        reconnection: false,
        forceNew: true,
        autoConnect: true,
      })
      let closed = false
      const finish = (code: number, reason: string): void => {
        if (closed) return
        closed = true
        socket.offAny()
        socket.removeAllListeners()
        handlers.onClose(code, reason)
      }
      socket.on('connect', () => {
        if (!closed) handlers.onOpen()
      })
      socket.onAny((event: string, ...args: unknown[]) => {
        if (!closed) handlers.onFrame([event, ...args])
      })
      socket.on('connect_error', (error: Error) => {
        handlers.onError?.(error)
        // With reconnection off, a failed handshake is final for this connection.
        finish(CloseCode.Abnormal, error.message)
      })
      socket.on('disconnect', (reason: string) => {
        finish(closeCodeForDisconnect(reason), reason)
      })
      return {
        send(frame: WireFrame): void {
          if (closed) return
          if (typeof frame === 'string') socket.send(frame)
          else {
            const [event, ...args] = frame
            if (typeof event !== 'string') {
              handlers.onError?.(new TypeError('a Socket.IO frame is [event, ...args] with a string event'))
              return
            }
            socket.timeout(ackTimeoutMs).emit(event, ...args, (error: unknown, ...response: unknown[]) => {
              if (closed) return
              const ack: SocketIoAck = error ? { type: SOCKET_IO_ACK, frame, timedOut: true } : { type: SOCKET_IO_ACK, frame, response, timedOut: false }
              handlers.onFrame(ack)
            })
          }
        },
        close(): void {
          if (closed) return
          // The caller has moved on: like the WebSocket transport, its own close is not reported.
          closed = true
          socket.offAny()
          socket.removeAllListeners()
          socket.disconnect()
        },
        get bufferedAmount(): number {
          // Packets emitted while the engine is not writable; a count, not bytes.
          return socket.sendBuffer.length
        },
      }
    },
  }
}
