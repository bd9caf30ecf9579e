import WebSocket from 'isomorphic-ws'
import { createClient, type Client, type ClientOptions, type WebSocketConstructor } from 'agentwire'
import { AgentwireError, ClientClosedError, ErrorCode, TimeoutError } from 'agentwire/protocol'
import { eventStream, type ChannelEvent, type EventStreamOptions } from './events'

export type NodeClientOptions = ClientOptions

/** The client, plus what a script needs: waiting for the connection and events as async iterators. */
export interface NodeClient extends Client {
  /**
   * Resolves once the connection is open (at once if it is). Rejects with `TimeoutError` after
   * `timeoutMs`, with `ClientClosedError` if the client closes, and with an `AgentwireError`
   * of code `unauthorized` if the token is refused. Connects if the client is idle.
   * @default timeoutMs 10000
   */
  ready(timeoutMs?: number): Promise<void>
  /**
   * `for await (const { event, channel, seq } of client.events('agent:*'))`: see
   * {@link eventStream} for ordering, buffering and the overflow policy.
   */
  events(pattern: string, options?: EventStreamOptions): AsyncIterableIterator<ChannelEvent>
}

/** `createClient` on Node: `ws` (through isomorphic-ws) is the WebSocket unless options give another. */
export function createNodeClient(options: NodeClientOptions): NodeClient {
  const client = createClient({ WebSocket: WebSocket as unknown as WebSocketConstructor, ...options })
  const clock = options.clock ?? { setTimeout: (fn: () => void, ms: number): unknown => setTimeout(fn, ms), clearTimeout: (h: unknown) => clearTimeout(h as ReturnType<typeof setTimeout>) }
  const ready = (timeoutMs = 10_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const settle = (error?: Error) => {
        off()
        clock.clearTimeout(timer)
        if (error) reject(error)
        else resolve()
      }
      const check = () => {
        const s = client.state
        if (s === 'open') settle()
        else if (s === 'closed') settle(new ClientClosedError('The client closed before the connection opened.'))
        else if (s === 'unauthorized') settle(new AgentwireError(ErrorCode.Unauthorized, 'The gateway refused the token.'))
      }
      const off = client.on('state', check)
      const timer = clock.setTimeout(() => settle(new TimeoutError(`The connection did not open within ${timeoutMs} ms (state: ${client.state}).`)), timeoutMs)
      if (client.state === 'idle') client.connect()
      check()
    })
  const events = (pattern: string, opts?: EventStreamOptions) => eventStream(client, pattern, opts)
  return Object.assign(client, { ready, events })
}
