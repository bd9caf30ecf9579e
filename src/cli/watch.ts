import pc from 'picocolors'
import WebSocket from 'ws'
import { createNodeClient } from 'agentwire/node'
import { dialects, isRetryableClose, parseChannel } from 'agentwire/protocol'
import { parseFlags } from './flags'
import { createScreen } from './screen'
import { displayUrl, eventLine } from './lines'
import { EXIT_CONNECT, EXIT_OK, usageError as commandUsageError, WATCH_HELP } from './usage'
import { renderView } from './view'
import { hasKey } from '../protocol/records'

export const DEFAULT_WATCH_CHANNELS = ['agent:*', 'task:*', 'request:*', 'global', 'knowledge', 'metrics']

/** `agentwire watch <url>`: resolves with the exit code once the watch ends. */
export async function watch(args: string[]): Promise<number> {
  const parsed = parseFlags({
    args,
    allowPositionals: true,
    options: {
      token: { type: 'string', short: 't' },
      json: { type: 'boolean', default: false },
      channel: { type: 'string', short: 'c', multiple: true },
      dialect: { type: 'string' },
      retries: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (typeof parsed === 'string') return usageError(parsed)
  const { values, positionals } = parsed
  if (values.help) {
    process.stdout.write(WATCH_HELP)
    return EXIT_OK
  }
  if (positionals.length !== 1) return usageError(positionals.length === 0 ? 'missing <url>, e.g. ws://127.0.0.1:8787/ws' : `expected one <url>, got ${positionals.length}`)

  const url = checkUrl(positionals[0]!)
  if (typeof url === 'string') return usageError(url)
  const channels = values.channel ?? DEFAULT_WATCH_CHANNELS
  for (const channel of channels) {
    const check = parseChannel(channel)
    if (!check.ok) return usageError(`--channel: ${check.reason}`)
  }
  const retries = values.retries === undefined ? 5 : Number(values.retries)
  if (!/^\d+$/.test(values.retries ?? '5') || !Number.isSafeInteger(retries)) return usageError(`--retries expects a whole number, got "${values.retries}"`)
  const dialect = values.dialect
  if (dialect !== undefined && !hasKey(dialects, dialect)) {
    return usageError(`--dialect: unknown dialect "${dialect.replace(/[^\x20-\x7e]/g, '?').slice(0, 40)}"; expected one of ${Object.keys(dialects).join(', ')}`)
  }
  const token = values.token ?? process.env['AGENTWIRE_TOKEN'] ?? undefined
  const shown = displayUrl(url)

  // What the last failed attempt ran into, which the client's close code (1006) does not say:
  // an HTTP answer to the upgrade (a 404 is a wrong path, and no retry will fix it), or a socket
  // error such as ECONNREFUSED.
  let lastFailure: { status?: number; code?: string } = {}
  class WatchedWebSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols)
      this.on('error', (error: NodeJS.ErrnoException) => {
        const status = /Unexpected server response: (\d{3})/.exec(error.message)?.[1]
        lastFailure = status ? { status: Number(status) } : error.code ? { code: error.code } : {}
      })
    }
  }

  // Not connected until the listeners are in place, so the first state change is printed too.
  const client = createNodeClient({
    url: url.href,
    autoConnect: false,
    WebSocket: WatchedWebSocket,
    // One watcher, not a fleet: short waits, so a gateway that is not there is reported in
    // seconds (5 retries ≤ 2.5 s) and one that restarts is back within a second.
    reconnect: { initialDelayMs: 100, maxDelayMs: 1000 },
    ...(token ? { token } : {}),
    ...(dialect ? { dialect } : {}),
  })
  const out = process.stdout
  const json = values.json
  const tty = !json && out.isTTY === true
  const screen = tty ? createScreen(out, (width) => renderView(client.getSnapshot(), client.state, width, { color: pc.isColorSupported, title: `agentwire watch ${shown}` })) : undefined
  const line = (text: string) => out.write(`${text}\n`)

  return new Promise<number>((resolve) => {
    // The client's timers are unref'd (a library must not hold a process open); a watch must.
    const keepAlive = setInterval(() => undefined, 1 << 30)
    let opened = false
    let failures = 0
    let finished = false
    const finish = (code: number, message?: string) => {
      if (finished) return
      finished = true
      clearInterval(keepAlive)
      screen?.done()
      client.close()
      if (message) process.stderr.write(`agentwire watch: ${message}\n`)
      // Not removed inside the signal's own dispatch: signal-exit (log-update's cursor restore)
      // runs after us and re-raises a signal nobody else listens to, which made Ctrl-C exit 130.
      setImmediate(() => {
        process.off('SIGINT', interrupt)
        process.off('SIGTERM', interrupt)
      })
      resolve(code)
    }
    const interrupt = () => finish(EXIT_OK)
    process.on('SIGINT', interrupt)
    process.on('SIGTERM', interrupt)

    client.on('state', (change) => {
      const code = change.reason?.code
      if (json) line(JSON.stringify(code === undefined ? { state: change.current } : { state: change.current, code }))
      else if (!tty) line(`-- ${change.current}${code === undefined ? '' : ` (${code}${change.reason?.message ? ` ${change.reason.message}` : ''})`}`)
      screen?.invalidate()
      if (change.current === 'open') (opened = true), (failures = 0)
      if (change.current === 'reconnecting' && !opened) {
        const { status, code: cause } = lastFailure
        if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429) {
          const hint = status === 404 ? `: nothing at ${url.pathname}; the agentwire gateway listens on /ws` : ''
          finish(EXIT_CONNECT, `${shown} answered the WebSocket upgrade with HTTP ${status}${hint}`)
        } else if (++failures > retries) {
          const why = status !== undefined ? `HTTP ${status}` : cause === 'ECONNREFUSED' ? 'connection refused: is the gateway running?' : (cause ?? `code ${change.reason?.code ?? 1006}`)
          finish(EXIT_CONNECT, `could not connect to ${shown} after ${failures} attempt${failures === 1 ? '' : 's'} (${retries} ${retries === 1 ? 'retry' : 'retries'}; ${why})`)
        }
      }
      if (change.current === 'unauthorized') finish(EXIT_CONNECT, `the gateway at ${shown} refused the token${describe(change.reason)}`)
      if (change.current === 'closed' && !finished) {
        const fatal = code !== undefined && !isRetryableClose(code)
        finish(EXIT_CONNECT, `the connection to ${shown} was closed${fatal ? ' for good' : ''}${describe(change.reason)}`)
      }
    })
    client.on('event', (event, context) => {
      if (json) line(JSON.stringify({ channel: context.channel, seq: context.seq, epoch: context.epoch, type: event.type, payload: event.payload }))
      else if (!tty) line(eventLine(event, context))
    })
    if (screen) client.subscribeStore(() => screen.invalidate())
    client.on('error', (error) => {
      if (!json && !tty) line(`-- error ${error.code}: ${error.message}`)
    })
    for (const channel of channels) {
      const sub = client.subscribe(channel)
      sub.ready.catch((error: Error) => {
        if (!json) process.stderr.write(`agentwire watch: ${channel}: ${error.message}\n`)
      })
    }
    screen?.invalidate()
  })
}

/** A ws:// or wss:// URL, or what is wrong with the input. */
export function checkUrl(input: string): URL | string {
  let url: URL
  try {
    url = new URL(input)
  } catch {
    return `"${input.replace(/[^\x20-\x7e]/g, '?').slice(0, 200)}" is not a URL; expected ws://host:port/path or wss://…`
  }
  if (url.protocol === 'ws:' || url.protocol === 'wss:') return url
  const hint = url.protocol === 'http:' || url.protocol === 'https:' ? ` (did you mean ${url.protocol === 'https:' ? 'wss' : 'ws'}://${url.host}/ws?)` : ''
  return `expected a ws:// or wss:// URL, got ${url.protocol}//…${hint}`
}

function describe(reason: { code?: number; message?: string } | undefined): string {
  if (!reason) return ''
  const parts = [reason.code === undefined ? '' : `code ${reason.code}`, reason.message ?? ''].filter(Boolean)
  return parts.length ? ` (${parts.join(': ')})` : ''
}

function usageError(message: string): number {
  return commandUsageError('watch', message)
}
