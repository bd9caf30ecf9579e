import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createClient, share, type BroadcastChannelLike, type Client, type LockManagerLike, type WebSocketConstructor } from 'agentwire'
import { startGateway, status } from '../server/support/gateway'
import { createRegistry } from '../server/support/registry'

// share() with Web Locks and BroadcastChannel of the test's own, so "tabs" live in one process
// and a tab can die at a chosen moment: its locks freed, its channels and sockets gone, as when
// a browser closes a page (the same in a real Chromium: test/browser/share.test.ts).

const registry = createRegistry()

/** One browser's locks: granted in request order, freed when the holder's callback settles or its tab dies. */
function browserLocks() {
  const held = new Map<string, { tab: number }>()
  const queues = new Map<string, Array<{ tab: number; grant: () => void }>>()
  function grantNext(name: string): void {
    if (held.has(name)) return
    const next = queues.get(name)?.shift()
    if (next) next.grant()
  }
  return {
    forTab(tab: number): LockManagerLike {
      return {
        request(name, callback) {
          return new Promise((resolve) => {
            const grant = () => {
              held.set(name, { tab })
              void Promise.resolve(callback()).then(resolve, resolve)
                .finally(() => {
                  if (held.get(name)?.tab === tab) held.delete(name), grantNext(name)
                })
            }
            if (!queues.has(name)) queues.set(name, [])
            queues.get(name)!.push({ tab, grant })
            grantNext(name)
          })
        },
      }
    },
    /** The tab is gone: its locks are free and it waits for none. */
    die(tab: number) {
      for (const queue of queues.values()) for (let i = queue.length - 1; i >= 0; i--) if (queue[i]!.tab === tab) queue.splice(i, 1)
      for (const [name, holder] of [...held]) if (holder.tab === tab) held.delete(name), grantNext(name)
    },
  }
}

/** One browser's BroadcastChannels: a message reaches every other open channel of that name, later. */
function browserChannels() {
  const open = new Set<{ name: string; tab: number; channel: BroadcastChannelLike }>()
  return {
    forTab(tab: number): new (name: string) => BroadcastChannelLike {
      return class implements BroadcastChannelLike {
        onmessage: ((event: { data: unknown }) => void) | null = null
        private readonly entry
        constructor(readonly name: string) {
          this.entry = { name, tab, channel: this as BroadcastChannelLike }
          open.add(this.entry)
        }
        postMessage(message: unknown) {
          if (!open.has(this.entry)) return
          const data = structuredClone(message)
          for (const other of [...open]) {
            if (other.name === this.name && other.channel !== this) setTimeout(() => open.has(other) && other.channel.onmessage?.({ data }), 0)
          }
        }
        close() {
          open.delete(this.entry)
        }
      }
    },
    die(tab: number) {
      for (const entry of [...open]) if (entry.tab === tab) open.delete(entry)
    },
  }
}

describe('share() in one process, tabs dying on cue', () => {
  it('three tabs, one socket; the leader dies mid-stream, then a follower: the rest see every event once, in order', async () => {
    /** WebSockets the tabs opened: one per leader. */
    let upgrades = 0
    const gateway = await startGateway(registry)
    const locks = browserLocks()
    const channels = browserChannels()
    const sockets = new Map<number, WebSocket[]>()
    const tabs: Array<{ client: Client; seqs: number[]; leader: boolean }> = []

    function openTab(index: number) {
      // A tab's WebSocket: a real one, remembered so the tab's death can take it down.
      class TabWebSocket extends WebSocket {
        constructor(url: string) {
          super(url)
          upgrades++
          if (!sockets.has(index)) sockets.set(index, [])
          sockets.get(index)!.push(this)
        }
      }
      const tab = { client: undefined as unknown as Client, seqs: [] as number[], leader: false }
      tab.client = createClient({
        url: gateway.url,
        ...share({ locks: locks.forTab(index), BroadcastChannel: channels.forTab(index), WebSocket: TabWebSocket as unknown as WebSocketConstructor, onLeader: () => (tab.leader = true) }),
        environment: null,
        reconnect: { initialDelayMs: 10, maxDelayMs: 200 },
      })
      registry.track(() => tab.client.close())
      tab.client.on('agent.status', (_event, context) => tab.seqs.push(context.seq!))
      tab.client.subscribe('agent:a')
      tabs.push(tab)
      return tab
    }
    function die(index: number) {
      locks.die(index)
      channels.die(index)
      for (const ws of sockets.get(index) ?? []) ws.terminate()
    }

    openTab(0)
    await expect.poll(() => tabs[0]!.leader).toBe(true)
    openTab(1)
    openTab(2)
    await expect.poll(() => tabs.every((t) => t.client.state === 'open') && gateway.stats().connections === 3).toBe(true)
    await expect.poll(() => gateway.stats().subscriptions.total).toBe(3)
    expect(upgrades).toBe(1)

    const total = 200
    for (let i = 1; i <= total; i++) {
      await gateway.publish('agent:a', status('a', i))
      if (i === 60) die(0)
      if (i === 130) die(tabs[1]!.leader ? 2 : 1)
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
    const survivor = tabs.find((_, index) => index !== 0 && tabs[index]!.seqs.length > 130)!
    const expected = Array.from({ length: total }, (_, k) => k + 1)
    await expect.poll(() => survivor.seqs, { timeout: 10_000 }).toEqual(expected)
    expect(survivor.leader).toBe(true)
    // The survivor's own socket, once the dead tabs' logical connections are gone.
    await expect.poll(() => gateway.stats().connections, { timeout: 10_000 }).toBe(1)
    expect(upgrades).toBe(2)
    // The last client closed: the leader closes the socket nobody uses.
    survivor.client.close()
    const openSockets = () => [...sockets.values()].flat().filter((ws) => ws.readyState !== WebSocket.CLOSED).length
    await expect.poll(openSockets, { timeout: 10_000 }).toBe(0)
    expect(gateway.stats().connections).toBe(0)
  })

  it('without Web Locks, share() adds nothing: the client keeps its own WebSocket', () => {
    expect(share({ locks: undefined, BroadcastChannel: undefined })).toEqual({})
  })
})
