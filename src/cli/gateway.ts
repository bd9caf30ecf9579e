import { createGateway, dashboardHandler, type Broker, type Gateway, type GatewayOptions } from 'agentwire/server'

/** What `serve` and `demo` share: flags, starting the gateway, the URLs to print, shutting down. */

export interface StartOptions {
  port: number
  host: string
  /** The port came from the user: if it is taken, fail rather than pick another. */
  portExplicit: boolean
  redis?: string | undefined
  /** An AG-UI agent run on each start; the gateway's AG-UI endpoint is served too. */
  agui?: string | undefined
  onCommand?: GatewayOptions['onCommand']
}

export interface Started {
  gateway: Gateway
  /** The dashboard, e.g. `http://127.0.0.1:8787/`. */
  httpUrl: string
  /** The WebSocket endpoint, e.g. `ws://127.0.0.1:8787/ws`. */
  wsUrl: string
  /** Set when the default port was taken and another was picked. */
  note?: string
  /** Closes the gateway (clients get 1012) and a Redis broker it did not own. */
  close(): Promise<void>
}

export class StartError extends Error {}

const REDIS_TIMEOUT_MS = 5000

export async function startGateway(options: StartOptions): Promise<Started> {
  let broker: (Broker & { ready?: () => Promise<void> }) | undefined
  if (options.redis) {
    const shown = redactRedis(options.redis)
    let lastError = ''
    // Loaded only with --redis: `redis` is an optional peer the rest of the CLI never needs.
    const { redisBroker } = await import('agentwire/redis').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ERR_MODULE_NOT_FOUND' && /'redis'/.test(error.message)) throw new StartError('--redis needs the redis package: npm install redis')
      throw error
    })
    broker = redisBroker({ url: options.redis, onError: (error) => (lastError = error.message) })
    const ok = await Promise.race([
      broker.ready!().then(() => true, () => false),
      new Promise<boolean>((resolve) => setTimeout(resolve, REDIS_TIMEOUT_MS, false).unref()),
    ])
    if (!ok) {
      await broker.close().catch(() => undefined)
      throw new StartError(`could not reach Redis at ${shown} within ${REDIS_TIMEOUT_MS / 1000} s${lastError ? ` (${lastError})` : ''}. Is it running?`)
    }
  }
  const attempt = async (port: number): Promise<Gateway> => {
    const gateway = createGateway({
      port,
      host: options.host,
      ...(broker ? { broker } : {}),
      http: dashboardHandler(),
      ...(options.onCommand ? { onCommand: options.onCommand } : {}),
      ...(options.agui ? { agui: options.agui, aguiEndpoint: true } : {}),
    })
    try {
      await gateway.ready
      return gateway
    } catch (error) {
      await gateway.close({ drainMs: 0 }).catch(() => undefined)
      throw error
    }
  }

  let gateway: Gateway
  let note: string | undefined
  try {
    gateway = await attempt(options.port)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EADDRINUSE' && !options.portExplicit) {
      gateway = await attempt(0)
      note = `port ${options.port} is in use; listening on ${gateway.port} instead`
    } else {
      await broker?.close().catch(() => undefined)
      if (code === 'EADDRINUSE') throw new StartError(`port ${options.port} on ${options.host} is in use. Stop whatever uses it, or pass --port 0 for a free port.`)
      if (code === 'EACCES') throw new StartError(`not allowed to listen on ${options.host}:${options.port}; pick a port above 1023.`)
      if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new StartError(`cannot listen on host "${options.host}": no such local address.`)
      throw error
    }
  }

  // 0.0.0.0 and :: are where to listen, not where to go: print an address a browser can open.
  const shownHost = options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host.includes(':') ? `[${options.host}]` : options.host
  const httpUrl = `http://${shownHost}:${gateway.port}/`
  const wsUrl = `ws://${shownHost}:${gateway.port}/ws`
  let closing: Promise<void> | undefined
  return {
    gateway,
    httpUrl,
    wsUrl,
    ...(note ? { note } : {}),
    close() {
      closing ??= (async () => {
        await gateway.close({ drainMs: 2000 })
        await broker?.close()
      })()
      return closing
    },
  }
}

/** Port flag: a whole number 0–65535. */
export function parsePort(value: string | undefined, fallback: number): number | string {
  if (value === undefined) return fallback
  const port = Number(value)
  if (!/^\d+$/.test(value) || port > 65_535) return `--port expects a number from 0 to 65535, got "${value}"`
  return port
}

/** A Redis URL without its password. */
export function redactRedis(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '(an unparsable Redis URL)'
  }
}

/**
 * Resolves once SIGINT or SIGTERM arrives; a second one ends the process at once (130 or 143).
 * The listeners stay for the rest of the process, so that the graceful close always runs:
 * log-update restores the terminal's cursor through signal-exit, which re-raises a signal that
 * nobody else listens to any more, and that killed the 1012 drain of the terminal view (exit 130,
 * browsers saw 1006).
 */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false
    const on = (signal: NodeJS.Signals) => {
      if (received) process.exit(signal === 'SIGINT' ? 130 : 143)
      received = true
      resolve(signal)
    }
    process.on('SIGINT', on)
    process.on('SIGTERM', on)
  })
}
