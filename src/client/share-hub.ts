import { createId } from './ids'
import type { BroadcastChannelLike, LockManagerLike } from './share'
import type { WebSocketConstructor, WebSocketLike } from './types'

/**
 * The leader's side of `share()`: the one WebSocket to the gateway (`?mux=1`) and the relay
 * between it and every tab's logical connections over the BroadcastChannel. It knows nothing
 * of the protocol: frames pass through as text, prefixed with their logical connection's id on
 * the socket; the tabs' clients do the rest.
 */

/** What travels on the BroadcastChannel. */
export type ShareMessage =
  | { t: 'hub-up'; hub: string }
  | { t: 'open'; vc: string; tab: string }
  | { t: 'opened'; vc: string; hub: string }
  | { t: 'frame'; to: 'hub' | 'tab'; vc: string; text: string }
  | { t: 'close'; vc: string }
  | { t: 'closed'; vc: string; code: number; reason: string }

export interface HubOptions {
  readonly key: string
  readonly url: string
  /** The leader's own tab: never watched for going away. */
  readonly tabId: string
  readonly locks: LockManagerLike
  readonly BC: new (name: string) => BroadcastChannelLike
  readonly WebSocket: WebSocketConstructor
}

/** Frames a tab sent before the socket opened, kept at most (per hub): more is a misbehaving tab. */
const MAX_WAITING = 1000

export function startHub(options: HubOptions): void {
  const { key, tabId, locks } = options
  const hub = createId()
  const channel = new options.BC(key)
  /** Logical connections on the socket, by id, with their tab. */
  const links = new Map<string, string>()
  /** Logical connections waiting for the socket to open. */
  const waiting = new Set<string>()
  /** Tabs watched for going away. */
  const watched = new Set<string>()
  let socket: WebSocketLike | undefined
  let open = false

  const post = (message: ShareMessage) => channel.postMessage(message)

  function connect(): void {
    const url = options.url + (options.url.includes('?') ? '&' : '?') + 'mux=1'
    const ws = new options.WebSocket(url)
    socket = ws
    open = false
    ws.onopen = () => {
      if (socket !== ws) return
      open = true
      for (const vc of waiting) post({ t: 'opened', vc, hub })
      waiting.clear()
    }
    ws.onmessage = (event) => {
      if (socket !== ws || typeof event.data !== 'string') return
      const text = event.data
      const bar = text.indexOf('|')
      if (bar <= 0) return
      const vc = text.slice(0, bar)
      const body = text.slice(bar + 1)
      if (!links.has(vc)) return
      if (body.startsWith('!close')) {
        links.delete(vc)
        const [, code, ...reason] = body.split(' ')
        return post({ t: 'closed', vc, code: Number(code) || 1006, reason: reason.join(' ') })
      }
      post({ t: 'frame', to: 'tab', vc, text: body })
    }
    ws.onerror = () => {}
    ws.onclose = (event) => {
      if (socket !== ws) return
      socket = undefined
      open = false
      // Every logical connection on it is gone: each tab's client reconnects as after any drop.
      for (const vc of [...links.keys()]) post({ t: 'closed', vc, code: event.code || 1006, reason: event.reason || 'shared connection closed' })
      links.clear()
      waiting.clear()
    }
  }

  /** The tab's lock is free once the tab is gone (closed, crashed): its logical connections end. */
  function watch(tab: string): void {
    if (tab === tabId || watched.has(tab)) return
    watched.add(tab)
    void locks.request(`${key}#tab:${tab}`, async () => {
      watched.delete(tab)
      for (const [vc, owner] of [...links]) {
        if (owner !== tab) continue
        links.delete(vc)
        waiting.delete(vc)
        if (open) socket?.send(`${vc}|!close`)
      }
      idle()
    })
  }

  /** No tab uses the socket any more: it is closed, and opened again by the next tab that needs it. */
  function idle(): void {
    if (links.size > 0 || !socket) return
    const ws = socket
    socket = undefined
    open = false
    ws.onopen = ws.onmessage = ws.onclose = null
    ws.close(1000, 'no tab uses this connection')
  }

  channel.onmessage = ({ data }) => {
    const message = data as ShareMessage
    switch (message.t) {
      case 'open':
        if (links.has(message.vc)) return
        links.set(message.vc, message.tab)
        watch(message.tab)
        if (open) return post({ t: 'opened', vc: message.vc, hub })
        if (waiting.size < MAX_WAITING) waiting.add(message.vc)
        if (!socket) connect()
        return
      case 'frame':
        if (message.to === 'hub' && open && links.has(message.vc)) socket!.send(`${message.vc}|${message.text}`)
        return
      case 'close':
        if (!links.delete(message.vc)) return
        waiting.delete(message.vc)
        if (open) socket!.send(`${message.vc}|!close`)
        return idle()
      default:
        return
    }
  }
  post({ t: 'hub-up', hub })
}
