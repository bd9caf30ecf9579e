import { afterEach, describe, expect, it } from 'vitest'
import { Server, WebSocket } from 'mock-socket'
import { createNodeClient, type NodeClient } from 'agentwire/node'
import type { WebSocketConstructor } from 'agentwire'

let url = 0
const open: Array<NodeClient | Server> = []
afterEach(() => {
  for (const o of open.splice(0)) o instanceof Server ? o.stop() : o.close()
})

describe('createNodeClient takes dialects by name', () => {
  it('every dialect name works, and a wrong one throws with the list', () => {
    for (const dialect of ['agentwire', 'routing', 'webgui', 'rooms', 'progress', 'forge']) {
      const client = createNodeClient({ url: 'ws://x.test/ws', dialect, autoConnect: false, environment: null })
      expect(client.state).toBe('idle')
      client.close()
    }
    expect(() => createNodeClient({ url: 'ws://x.test/ws', dialect: 'nope', autoConnect: false })).toThrow(/unknown dialect "nope"\. Use one of agentwire, routing, webgui, rooms, progress, forge/)
    expect(() => createNodeClient({ url: 'ws://x.test/ws', dialect: 'constructor', autoConnect: false })).toThrow(/unknown dialect "constructor"/)
  })

  it("dialect: 'webgui' decodes that backend's frames", async () => {
    const address = `ws://node-dialect-${++url}.test/ws`
    const server = new Server(address)
    open.push(server)
    server.on('connection', (socket) => {
      socket.on('message', (data) => {
        const frame = JSON.parse(String(data)) as { type: string; channel?: string }
        if (frame.type === 'subscribe' && frame.channel === 'webgui:session:s1') {
          socket.send(JSON.stringify({ type: 'session_status_changed', timestamp: new Date().toISOString(), session_id: 's1', data: { status: 'testing', progress: 40 } }))
        }
      })
    })
    const client = createNodeClient({ url: address, dialect: 'webgui', WebSocket: WebSocket as unknown as WebSocketConstructor, environment: null })
    open.push(client)
    await client.ready()
    await client.subscribe('session:s1').ready
    for (let i = 0; i < 500 && client.getSnapshot().sessions.s1 === undefined; i++) await new Promise((r) => setTimeout(r, 10))
    expect(client.getSnapshot().sessions.s1).toMatchObject({ status: 'testing', progress: 40 })
  })
})
