import { CloseCode } from 'agentwire/protocol'
import type { GatewayCore } from './core'
import type { HandshakeInfo } from './options'
import type { GatewayConnection, GatewaySocket, IncomingFrame } from './socket'

/**
 * Several logical connections over one WebSocket: the tabs of one browser page's origin that
 * share a link (the client's `share()`), opened with `?mux=1` on the gateway's path.
 *
 * Every message either way is `<vc>|<frame>`, `<vc>` naming one logical connection (a tab's
 * client); `<vc>|!close <code> <reason>` ends one, either way. Each logical connection is a
 * full gateway connection of its own (its own hello and token, subscriptions, positions,
 * commands and limits), so what the protocol promises per connection holds per tab: only the
 * socket is shared. The per-principal connection limit counts the socket once, so a user's
 * eleventh tab is not refused for the other ten.
 */

/** Longest logical connection id accepted. */
const MAX_VC_LENGTH = 64

export interface MuxOptions {
  /** Logical connections at most per socket; one more is closed with 4430. @default 32 */
  maxVirtual?: number
}

/** The receiving side of a mux socket, as the `ws` binding drives it. */
export function acceptMux(core: GatewayCore, socket: GatewaySocket, handshake: HandshakeInfo, options: MuxOptions = {}): GatewayConnection {
  const maxVirtual = options.maxVirtual ?? 32
  const connections = new Map<string, GatewayConnection>()
  /** What the per-principal connection limit counts: this socket, once for all its logical connections. */
  const shared = {}
  let gone = false

  /** One logical connection's socket: its frames prefixed with its id on the shared one. */
  class VirtualSocket implements GatewaySocket {
    connection: GatewayConnection | undefined
    closed = false
    readonly shared = shared
    constructor(readonly vc: string) {}
    send(text: string): void {
      if (!this.closed && !gone) socket.send(`${this.vc}|${text}`)
    }
    close(code: number, reason: string): void {
      if (this.closed) return
      this.closed = true
      if (!gone) socket.send(`${this.vc}|!close ${code} ${reason}`)
      const connection = this.connection
      if (connections.get(this.vc) === connection) connections.delete(this.vc)
      // After the caller's own bookkeeping, as a socket's close event would come.
      if (connection) queueMicrotask(() => connection.closed())
      // The gateway is closing (a drain): the socket goes with its last logical connection.
      if (connections.size === 0 && !core.canAccept()) socket.close(code, reason)
    }
    terminate(): void {
      this.close(CloseCode.Abnormal, 'terminated')
    }
    ping(): void {
      // A transport-level ping of the shared socket: its pong reaches every logical connection.
      if (!gone) socket.ping()
    }
    get bufferedAmount(): number {
      return socket.bufferedAmount
    }
  }

  return {
    session: 'mux',
    receive(frame: IncomingFrame) {
      if (gone) return
      if (typeof frame !== 'string') return socket.close(CloseCode.BadRequest, 'a mux frame is text: <vc>|<frame>')
      const bar = frame.indexOf('|')
      if (bar <= 0 || bar > MAX_VC_LENGTH) return socket.close(CloseCode.BadRequest, 'a mux frame starts with <vc>|')
      const vc = frame.slice(0, bar)
      const body = frame.slice(bar + 1)
      const existing = connections.get(vc)
      if (body.startsWith('!close')) {
        if (existing) {
          connections.delete(vc)
          existing.closed()
        }
        return
      }
      if (existing) return existing.receive(body)
      if (connections.size >= maxVirtual) {
        socket.send(`${vc}|!close ${CloseCode.TooManyConnections} too many tabs on one shared connection`)
        return
      }
      const virtual = new VirtualSocket(vc)
      const connection = core.accept(virtual, handshake)
      if (!connection || virtual.closed) return
      virtual.connection = connection
      connections.set(vc, connection)
      connection.receive(body)
    },
    pong() {
      for (const connection of [...connections.values()]) connection.pong()
    },
    closed() {
      gone = true
      const all = [...connections.values()]
      connections.clear()
      for (const connection of all) connection.closed()
    },
  }
}
