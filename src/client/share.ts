import { createId } from './ids'
import { startHub, type ShareMessage } from './share-hub'
import type { Transport, TransportConnection, TransportHandlers, WebSocketConstructor } from './types'
import { resolveWebSocket, webSocketTransport } from './websocket-transport'
import { urlBase } from './url'

/**
 * Tabs share one connection: `createClient({ url, ...share() })`. The tabs of one origin that
 * use the same URL and `name` elect a leader with a Web Lock; the leader's tab holds the one
 * WebSocket to the gateway (`?mux=1`, see the gateway's `mux.ts`) and relays every tab's
 * frames over a BroadcastChannel. Each tab keeps its own client: store, hooks, subscriptions,
 * positions and outbox; to the gateway it is a logical connection of its own on the shared
 * socket, with its own hello and token. When the leader's tab closes, its lock passes to
 * another tab, which opens the socket again, and every tab's client reconnects through it
 * and resumes from its own positions, as after any dropped connection: nothing lost, nothing
 * twice, within the replay window.
 *
 * A runtime without Web Locks or BroadcastChannel (Node 20, old browsers) gets a WebSocket per
 * client, as without `share()`. Needs a gateway that speaks `?mux=1` (agentwire's own).
 */

/** The part of `navigator.locks` used. */
export interface LockManagerLike {
  request(name: string, callback: () => Promise<unknown>): Promise<unknown>
}

/** The part of BroadcastChannel used. */
export interface BroadcastChannelLike {
  onmessage: ((event: { data: unknown }) => void) | null
  postMessage(message: unknown): void
  close(): void
}

export interface ShareOptions {
  /** Tabs share a connection when their URL and name are the same. @default 'default' */
  name?: string
  /** @default navigator.locks */
  locks?: LockManagerLike
  /** @default globalThis.BroadcastChannel */
  BroadcastChannel?: new (name: string) => BroadcastChannelLike
  /** The leader's WebSocket. @default globalThis.WebSocket */
  WebSocket?: WebSocketConstructor
  /** Called when this tab becomes the leader (or stops being it: never, until the page goes). */
  onLeader?: () => void
}

/** What to spread into `createClient`'s options: no transport where there is nothing to share with. */
export interface Shared {
  readonly transport?: Transport
}

/** Reason of the close a tab's client gets when the leader changed: reconnect at once (through the new one). */
const LEADER_CHANGED = 'leader changed; reconnect within 20 ms'

export function share(options: ShareOptions = {}): Shared {
  const locks = options.locks ?? (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks
  const BC = options.BroadcastChannel ?? (globalThis as { BroadcastChannel?: new (name: string) => BroadcastChannelLike }).BroadcastChannel
  if (!locks || !BC) {
    // Nothing to share with: the client's own transport, as without share().
    return options.WebSocket ? { transport: webSocketTransport(options.WebSocket) } : {}
  }
  const name = options.name ?? 'default'
  /** This tab's link per gateway URL: clients of other URLs never go through another URL's leader. */
  const tabs = new Map<string, TabLink>()

  return {
    transport: {
      name: 'shared',
      connect(url: string, handlers: TransportHandlers): TransportConnection {
        let tab = tabs.get(url)
        if (!tab) tabs.set(url, (tab = joinTabs(url, name, locks, BC, options)))
        return tab.connect(handlers)
      },
    },
  }
}

interface TabLink {
  connect(handlers: TransportHandlers): TransportConnection
}

/** The key tabs share: the URL without query or credentials, and the name. */
export function shareKey(url: string, name: string): string {
  return `agentwire:share:${urlBase(url)}#${name}`
}

/** This tab among the others: its lock (held while it lives), its channel, and its bid for leadership. */
function joinTabs(url: string, name: string, locks: LockManagerLike, BC: new (name: string) => BroadcastChannelLike, options: ShareOptions): TabLink {
  const key = shareKey(url, name)
  const tabId = createId()
  const channel = new BC(key)
  /** This tab's logical connections, by id. */
  const links = new Map<string, { handlers: TransportHandlers; hub: string | undefined; done: boolean; open: () => void }>()
  let count = 0

  // Held until the page goes: the leader watches it to close this tab's logical connections then.
  void locks.request(`${key}#tab:${tabId}`, () => new Promise<void>(() => {}))
  // Queued behind the current leader; granted when its tab goes.
  void locks.request(`${key}#leader`, () => {
    startHub({ key, url, tabId, locks, BC, WebSocket: resolveWebSocket(options.WebSocket) })
    options.onLeader?.()
    return new Promise<void>(() => {})
  })

  channel.onmessage = ({ data }) => {
    const message = data as ShareMessage
    if (message.t === 'hub-up') {
      for (const [vc, link] of links) {
        if (link.done) continue
        // Bound to a leader that is gone: this logical connection is over; the client reconnects.
        if (link.hub !== undefined && link.hub !== message.hub) finish(vc, 1012, LEADER_CHANGED)
        // Still waiting to be let in: ask the new leader.
        else if (link.hub === undefined) link.open()
      }
      return
    }
    if (!('vc' in message)) return
    const link = links.get(message.vc)
    if (!link || link.done) return
    if (message.t === 'opened') {
      if (link.hub !== undefined) return
      link.hub = message.hub
      link.handlers.onOpen()
    } else if (message.t === 'frame' && message.to === 'tab') link.handlers.onFrame(message.text)
    else if (message.t === 'closed') finish(message.vc, message.code, message.reason)
  }

  function finish(vc: string, code: number, reason: string): void {
    const link = links.get(vc)
    if (!link || link.done) return
    link.done = true
    links.delete(vc)
    link.handlers.onClose(code, reason)
  }

  return {
    connect(handlers) {
      const vc = `${tabId}.${++count}`
      const open = () => channel.postMessage({ t: 'open', vc, tab: tabId } satisfies ShareMessage)
      links.set(vc, { handlers, hub: undefined, done: false, open })
      open()
      return {
        send(frame) {
          const link = links.get(vc)
          if (!link || link.done) return
          channel.postMessage({ t: 'frame', to: 'hub', vc, text: typeof frame === 'string' ? frame : JSON.stringify(frame) } satisfies ShareMessage)
        },
        close() {
          const link = links.get(vc)
          if (!link) return
          link.done = true
          links.delete(vc)
          channel.postMessage({ t: 'close', vc } satisfies ShareMessage)
        },
      }
    },
  }
}
