/**
 * What every seed test server exposes to tests. The servers implement their seed document as
 * written (no agentwire code on the server side), so a test that passes against them says the
 * client can talk to a backend built that way.
 */
export interface SeedServer {
  /** The URL a client connects to (ws:// for native servers, http:// for Socket.IO ones). */
  readonly url: string
  /** Connections open right now. */
  connections(): number
  /** Connections accepted since start (a reconnect adds one). */
  readonly accepted: number
  /** Every frame a client sent, decoded, in arrival order. */
  readonly received: ReadonlyArray<ReceivedCommand>
  /** Drops every connection from the server side (no close handshake a client could mistake for a clean close). */
  dropAll(): void
  close(): Promise<void>
}

export interface ReceivedCommand {
  /** The message type or Socket.IO event name. */
  readonly type: string
  readonly data: unknown
}

/** Waits until `check` holds, polling the server's counters; bounded, and says what it waited for. */
export async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
