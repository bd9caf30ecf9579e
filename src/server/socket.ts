/**
 * The two sides of a runtime binding (`./ws`, `./http-transport`): what the gateway core needs
 * from a socket, and what the core tells the binding back about each connection.
 */

/** The least a runtime's socket must offer the gateway core. The `ws` binding adapts a `ws` WebSocket to it. */
export interface GatewaySocket {
  /** Sends one text frame. */
  send(text: string): void
  /** Starts the closing handshake. */
  close(code: number, reason: string): void
  /** Drops the connection at once (a dead peer cannot take part in a closing handshake). */
  terminate(): void
  /** A transport-level ping; the peer answers with a pong, reported through `GatewayConnection.pong()`. */
  ping(): void
  /**
   * Bytes accepted by `send` but not yet written to the network: the backlog the slow-consumer
   * limit is checked against. A binding that batches writes within a tick leaves that tick's
   * bytes out (they are a burst, not a backlog).
   */
  readonly bufferedAmount: number
}

/** One message as received: its text, or what was wrong with it (a binary frame, text that is not UTF-8). */
export type IncomingFrame = string | { readonly kind: 'binary' | 'invalid_utf8'; readonly bytes: number }

/** What the runtime binding tells the core about one socket. */
export interface GatewayConnection {
  readonly session: string
  receive(frame: IncomingFrame): void
  /** A transport-level pong arrived. */
  pong(): void
  /** The socket is closed (either side); the core forgets the connection. */
  closed(): void
}
