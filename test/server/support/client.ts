import WebSocket from 'ws'
import { PROTOCOL_VERSION } from 'agentwire/protocol'
import type { Registry } from './registry'

/** Any frame the gateway sent, parsed. Tests narrow it with predicates. */
export type Frame = { type: string; [key: string]: any }

export interface RawClient {
  readonly ws: WebSocket
  /** Every frame received so far, in order. */
  readonly frames: Frame[]
  send(frame: object | string): void
  /** The first frame not yet taken that matches, waiting for it if needed. */
  waitForFrame(predicate: (frame: Frame) => boolean, timeoutMs?: number): Promise<Frame>
  /** The close code and reason the gateway sent. */
  readonly closed: Promise<{ code: number; reason: string }>
  /** Sends hello and waits for the welcome. */
  hello(fields?: Record<string, unknown>): Promise<Frame>
  close(): void
}

export interface ConnectOptions {
  headers?: Record<string, string>
  origin?: string
  autoPong?: boolean
  perMessageDeflate?: boolean
}

/** A raw `ws` client: no agentwire client logic, so the tests see exactly what the gateway sends. */
export function connect(url: string, registry: Registry, options: ConnectOptions = {}): Promise<RawClient> {
  const ws = new WebSocket(url, {
    headers: options.headers,
    origin: options.origin,
    autoPong: options.autoPong ?? true,
    perMessageDeflate: options.perMessageDeflate ?? false,
  })
  registry.track(() => ws.terminate())
  const frames: Frame[] = []
  const taken = new Set<number>()
  const waiters = new Set<() => void>()
  ws.on('message', (data, isBinary) => {
    frames.push(isBinary ? { type: '<binary>' } : (JSON.parse(String(data)) as Frame))
    for (const w of [...waiters]) w()
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() })
      for (const w of [...waiters]) w()
    })
  })
  ws.on('error', () => undefined)

  const client: RawClient = {
    ws,
    frames,
    closed,
    send(frame) {
      ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
    },
    waitForFrame(predicate, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          for (let i = 0; i < frames.length; i++) {
            if (!taken.has(i) && predicate(frames[i]!)) {
              taken.add(i)
              cleanup()
              resolve(frames[i]!)
              return true
            }
          }
          if (ws.readyState === WebSocket.CLOSED) {
            cleanup()
            reject(new Error(`socket closed while waiting for a frame; got ${frames.map((f) => f.type).join(', ')}`))
            return true
          }
          return false
        }
        const timer = setTimeout(() => {
          cleanup()
          reject(new Error(`no matching frame within ${timeoutMs} ms; got ${frames.map((f) => f.type).join(', ')}`))
        }, timeoutMs)
        const waiter = () => void check()
        const cleanup = () => {
          clearTimeout(timer)
          waiters.delete(waiter)
        }
        if (!check()) waiters.add(waiter)
      })
    },
    async hello(fields = {}) {
      client.send({ type: 'hello', v: PROTOCOL_VERSION, ...fields })
      return client.waitForFrame((f) => f.type === 'welcome')
    },
    close() {
      ws.close()
    },
  }
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client))
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })))
    ws.once('error', reject)
  })
}

/** Connects and completes hello. */
export async function open(url: string, registry: Registry, fields: Record<string, unknown> = {}, options: ConnectOptions = {}): Promise<RawClient> {
  const client = await connect(url, registry, options)
  await client.hello(fields)
  return client
}

let ids = 0
export const nextId = () => `f${++ids}`

/** Subscribes and returns the reply. */
export async function subscribe(client: RawClient, channels: Array<string | { channel: string; resume?: unknown[] }>): Promise<Frame> {
  const id = nextId()
  client.send({ type: 'subscribe', id, channels: channels.map((c) => (typeof c === 'string' ? { channel: c } : c)) })
  return client.waitForFrame((f) => f.type === 'reply' && f.id === id)
}

/** Sends a command frame with a fresh id and waits for its reply. */
export async function command(client: RawClient, frame: Record<string, unknown>): Promise<Frame> {
  const id = (frame.id as string | undefined) ?? nextId()
  client.send({ ...frame, id })
  return client.waitForFrame((f) => f.type === 'reply' && f.id === id)
}
