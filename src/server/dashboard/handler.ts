import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { findBrowserBuild } from './bundle'
import { DASHBOARD_CHANNELS, DASHBOARD_SCRIPT, dashboardPage } from './page'

export interface DashboardOptions {
  /** Where the page is served. @default '/' */
  path?: string
  /** The gateway's WebSocket path the page connects to (same host). @default '/ws' */
  wsPath?: string
  /** Where the browser build of the core is served. @default '/agentwire.js' */
  scriptPath?: string
  /** The page's heading. @default 'agentwire' */
  title?: string
  /** Channels the page subscribes to. @default agent:*, task:*, request:*, global, knowledge, metrics, chat:*, collection:* */
  channels?: readonly string[]
  /** The browser build to serve. @default found next to the built package (dist/browser/agentwire.js) */
  bundleFile?: string
}

/** A plain-HTTP route handler: `true` when it answered the request. */
export type HttpHandler = (request: IncomingMessage, response: ServerResponse) => boolean

/**
 * Serves the live dashboard page and the browser build it loads. Pass it as the gateway's
 * `http` option: `createGateway({ http: dashboardHandler() })`.
 */
export function dashboardHandler(options: DashboardOptions = {}): HttpHandler {
  const path = options.path ?? '/'
  const scriptPath = options.scriptPath ?? '/agentwire.js'
  const html = dashboardPage({
    title: options.title ?? 'agentwire',
    wsPath: options.wsPath ?? '/ws',
    scriptPath,
    channels: options.channels ?? DASHBOARD_CHANNELS,
  })
  // The one inline script is allowed by its hash; nothing may eval, and nothing loads from elsewhere.
  const scriptHash = createHash('sha256').update(DASHBOARD_SCRIPT).digest('base64')
  const csp = [
    "default-src 'none'",
    `script-src 'self' 'sha256-${scriptHash}'`,
    "style-src 'unsafe-inline'",
    "connect-src 'self' ws: wss:",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ')

  return (request, response) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return false
    const pathname = (request.url ?? '/').split('?')[0]
    if (pathname === path || (path === '/' && pathname === '/index.html')) {
      send(response, 200, 'text/html; charset=utf-8', html, request.method, { 'content-security-policy': csp })
      return true
    }
    if (pathname === scriptPath) {
      serveBundle(options.bundleFile ?? findBrowserBuild(), request.method, response)
      return true
    }
    return false
  }
}

function serveBundle(file: string | undefined, method: string, response: ServerResponse): void {
  const missing = 'agentwire: the browser build (dist/browser/agentwire.js) was not found. Run `npm run build` in the agentwire package, then reload.\n'
  if (!file) return send(response, 500, 'text/plain; charset=utf-8', missing, method)
  // Read on every request: it is small, and a rebuild during development shows up on reload.
  readFile(file).then(
    (body) => send(response, 200, 'text/javascript; charset=utf-8', body, method),
    () => send(response, 500, 'text/plain; charset=utf-8', missing, method),
  )
}

function send(response: ServerResponse, status: number, type: string, body: string | Buffer, method: string, headers: Record<string, string> = {}): void {
  if (response.headersSent || response.destroyed) return
  response.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    ...headers,
  })
  response.end(method === 'HEAD' ? undefined : body)
}
