import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { AgentEvent, AppCommand, Registered, UserEventOf, UserEventType } from 'agentwire/protocol'
import { aguiEndpoint } from './agui-endpoint'
import { aguiSource, type AguiSource } from './agui-source'
import type { Broker, StoredEvent } from './broker'
import { createGatewayCore, type GatewayCloseOptions, type GatewayCore } from './core'
import type { CommandContext, CommandFrame, GatewayOptions, Principal } from './options'
import type { GatewayStats } from './stats'
import { bindWebSocket } from './ws'

/** What `publish` takes: a built-in event, or one of the application's (`events`). */
export type PublishEvent<E = Registered['events']> = AgentEvent | UserEventOf<E, UserEventType<E>>

/** What `onCommand` gets: a built-in command, or one of the application's with its payload typed by `commands`. */
export type GatewayCommand<C = Registered['commands']> = Exclude<CommandFrame, { type: 'command' }> | AppCommand<C>

/** The gateway's options, typed by the application's definitions. */
export type TypedGatewayOptions<E, C> = Omit<GatewayOptions, 'events' | 'commands' | 'onCommand'> & {
  events?: E & GatewayOptions['events']
  commands?: C & GatewayOptions['commands']
  /**
   * Handles `start`, `cancel`, `feedback`, `ack` and the application's commands (`commands`,
   * validated before it is called). Its return value is the reply's `result`.
   */
  onCommand?: (command: GatewayCommand<C>, context: CommandContext) => unknown
}

/** A running gateway: an HTTP server with the WebSocket endpoint, `GET /stats`, and the core. */
export interface Gateway<E = Registered['events']> {
  /** Resolves once the server listens (at once for a `server` that already does). */
  readonly ready: Promise<void>
  /** The WebSocket URL, e.g. `ws://127.0.0.1:8787/ws`. Read it after `ready`. */
  readonly url: string
  /** The port actually listened on (useful with `port: 0`). Read it after `ready`. */
  readonly port: number
  readonly broker: Broker
  /** The socket-level core, for binding more runtimes to the same gateway. */
  readonly core: GatewayCore
  /**
   * Publishes an event on a concrete channel, built-in or one of `events` (validated against
   * its schema: an invalid one rejects with `bad_request`, an unknown type with
   * `unknown_event`); returns it with its position.
   */
  publish(channel: string, event: PublishEvent<E>): Promise<StoredEvent>
  /** Closes every connection of a principal (logout) with 4401; returns how many. */
  revoke(principal: Principal | string): number
  stats(): GatewayStats
  /**
   * The gateway's HTTP routes (`GET /stats`) for a server of yours: returns `true` when it
   * answered. A server the gateway created uses it already.
   */
  handleHttp(request: IncomingMessage, response: ServerResponse): Promise<boolean>
  /** Graceful shutdown: stop accepting, close every client with 1012 (with a reconnect window and slot), wait up to `drainMs` (default 5000), close the broker if the gateway created it. */
  close(options?: GatewayCloseOptions): Promise<void>
}

/**
 * Starts a gateway. With `server`, it attaches to your HTTP server's `upgrade` event; otherwise
 * it creates one on `host:port` that also answers `GET /stats` and passes other requests to the
 * `http` hook (the dashboard).
 */
export function createGateway<E = Registered['events'], C = Registered['commands']>(typed: TypedGatewayOptions<E, C> = {}): Gateway<E> {
  const options = typed as GatewayOptions
  const agui: AguiSource | undefined = options.agui === undefined ? undefined : aguiSource(options.agui, options.logger, options.onCommand)
  const core = createGatewayCore(agui ? { ...options, onCommand: agui.onCommand } : options)
  const ownsServer = options.server === undefined
  const path = options.path ?? '/ws'
  const host = options.host ?? '127.0.0.1'

  // With an agent source, a POST for a run nobody started starts it, as a `start` command would.
  const startFromAgui = agui
    ? async (requestId: string, input: Record<string, unknown>, principal: Principal) => {
        const messages = Array.isArray(input.messages) ? (input.messages as Array<{ role?: unknown; content?: unknown }>) : []
        const asked = [...messages].reverse().find((m) => m?.role === 'user' && typeof m.content === 'string')
        const query = String(asked?.content ?? '').slice(0, 65_536)
        const context = { messages, ...(input.threadId !== undefined && { threadId: input.threadId }), ...(input.state !== undefined && { state: input.state }), ...(input.tools !== undefined && { tools: input.tools }), ...(input.forwardedProps !== undefined && { forwardedProps: input.forwardedProps }) }
        const publishStarted = () => core.publish(`request:${requestId}`, { type: 'request.started', payload: { requestId, query, ...(principal.anonymous ? {} : { userId: principal.id }) } })
        await agui.onCommand({ type: 'start', id: `agui:${requestId}`, requestId, query, context }, { principal, session: 'agui-http', publish: core.publish, defaultHandler: publishStarted })
      }
    : undefined
  const serveAgui = options.aguiEndpoint ? aguiEndpoint(core.broker, options, options.aguiEndpoint === true ? {} : options.aguiEndpoint, startFromAgui) : undefined

  async function handleHttp(request: IncomingMessage, response: ServerResponse): Promise<boolean> {
    if (serveAgui && (await serveAgui(request, response))) return true
    const pathname = (request.url ?? '/').split('?')[0]
    if (pathname === '/stats' && (request.method === 'GET' || request.method === 'HEAD')) {
      const body = JSON.stringify(core.stats())
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) })
      response.end(request.method === 'HEAD' ? undefined : body)
      return true
    }
    return false
  }

  const server: Server =
    options.server ??
    createServer((request, response) => {
      void (async () => {
        try {
          if (options.http && (await options.http(request, response))) return
          if (await handleHttp(request, response)) return
          response.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found')
        } catch {
          options.logger?.({ level: 'error', message: 'http handler failed', data: { path: (request.url ?? '').split('?')[0] } })
          if (!response.headersSent) response.writeHead(500).end()
          else response.destroy()
        }
      })()
    })

  const binding = bindWebSocket(server, core, {
    path,
    allowedOrigins: options.allowedOrigins,
    allowMissingOrigin: options.allowMissingOrigin,
    ownsServer,
    logger: options.logger,
  })

  const ready = new Promise<void>((resolve, reject) => {
    if (server.listening) return resolve()
    if (!ownsServer) {
      server.once('listening', () => resolve())
      return
    }
    server.once('error', reject)
    server.listen(options.port ?? 8787, host, () => {
      server.off('error', reject)
      resolve()
    })
  })

  const address = (): AddressInfo => {
    const a = server.address()
    if (a === null || typeof a === 'string') throw new Error('createGateway: the server is not listening on a TCP port yet; await gateway.ready first.')
    return a
  }

  return {
    ready,
    get port() {
      return address().port
    },
    get url() {
      const a = address()
      const hostname = a.family === 'IPv6' || a.family === (6 as unknown as string) ? `[${a.address}]` : a.address
      return `ws://${hostname}:${a.port}${path}`
    },
    broker: core.broker,
    core,
    publish: (channel, event) => core.publish(channel, event),
    revoke: (principal) => core.revoke(principal),
    stats: () => core.stats(),
    handleHttp,
    async close(closeOptions) {
      // Stop accepting first: no new TCP connection, and upgrades in flight get 503.
      const serverClosed = ownsServer ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve()
      agui?.close()
      const coreClosed = core.close(closeOptions)
      await coreClosed
      binding.detach()
      if (ownsServer) server.closeAllConnections()
      await serverClosed
    },
  }
}
