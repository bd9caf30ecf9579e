import WebSocket from 'ws'
import { createClient, type Client, type ClientOptions } from 'agentwire'
import { AgentwireError, ClientClosedError, dialects, ErrorCode, TimeoutError, type Codec, type Registered } from 'agentwire/protocol'
import { eventStream, type ChannelEvent, type EventStreamOptions } from './events'
import { hasKey } from '../protocol/records'

export interface NodeClientOptions extends Omit<ClientOptions, 'dialect'> {
  /**
   * The backend's dialect: a name from `dialects` (`'agentwire'`, `'routing'`, `'webgui'`,
   * `'rooms'`, `'progress'`, `'forge'`) or a codec. Node takes names, bundle size being no
   * concern here; `createClient` in a browser takes the codec.
   * @default 'agentwire'
   */
  dialect?: string | Codec
}

/**
 * The client, plus what a script needs: waiting for the connection and events as async
 * iterators. `E` and `C` are the application's definitions, as for `Client`.
 */
export interface NodeClient<E = Registered['events'], C = Registered['commands']> extends Client<E, C> {
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
  events(pattern: string, options?: EventStreamOptions): AsyncIterableIterator<ChannelEvent<E>>
}

/**
 * `createClient` on Node: `ws` (a dependency) is the WebSocket unless options give another.
 * `events` and `commands` (`defineEvents`, `defineCommands`) type it as they type `createClient`.
 */
export function createNodeClient<E = Registered['events'], C = Registered['commands']>(options: NodeClientOptions & { events?: E; commands?: C }): NodeClient<E, C> {
  const client = createClient<E, C>({ WebSocket, ...options, dialect: codecOf(options.dialect) })
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
  const events = (pattern: string, opts?: EventStreamOptions) => eventStream<E, C>(client, pattern, opts)
  return Object.assign(client, { ready, events })
}

/** A dialect name as its codec; a codec (or nothing) as it is. */
function codecOf(dialect: string | Codec | undefined): Codec | undefined {
  if (typeof dialect !== 'string') return dialect
  const codec = hasKey(dialects, dialect) ? dialects[dialect] : undefined
  if (!codec) throw new TypeError(`agentwire: unknown dialect "${dialect}". Use one of ${Object.keys(dialects).join(', ')}, or pass your own Codec.`)
  return codec
}
