import { afterEach, describe, expect, it } from 'vitest'
import { socketIoTransport } from 'agentwire/socket.io'
import type { TransportConnection } from 'agentwire'
import { isSocketIoAck, SOCKET_IO_ACK } from 'agentwire/protocol'
import { until } from './servers/control'
import { startRoomsServer, type RoomsServer } from './servers/rooms'
import { startProgressServer, type ProgressServer } from './servers/progress'

interface Recorder {
  opened: number
  frames: unknown[]
  closes: Array<{ code: number; reason: string }>
}
function recorder(): Recorder & { handlers: Parameters<ReturnType<typeof socketIoTransport>['connect']>[1] } {
  const r: Recorder = { opened: 0, frames: [], closes: [] }
  return {
    ...r,
    get opened() {
      return r.opened
    },
    frames: r.frames,
    closes: r.closes,
    handlers: {
      onOpen: () => r.opened++,
      onFrame: (f) => r.frames.push(f),
      onClose: (code, reason) => r.closes.push({ code, reason }),
    },
  }
}

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

describe('the Socket.IO transport, against servers built as the rooms and progress seeds describe', () => {
  let rooms: RoomsServer
  let progress: ProgressServer

  it('carries [event, ...args] frames both ways', async () => {
    rooms = await startRoomsServer()
    cleanup.push(() => rooms.close())
    const rec = recorder()
    const conn: TransportConnection = socketIoTransport().connect(rooms.url, rec.handlers)
    cleanup.push(() => conn.close())
    await until(() => rec.opened === 1, 'open')
    const join = ['subscribe:agent', 'a1']
    conn.send(join)
    await until(() => rooms.rooms().some((r) => r.includes('agent:a1')), 'the socket to join room agent:a1')
    // The server's acknowledgement of the emit comes down too, naming the very frame it answers.
    await until(() => rec.frames.some(isSocketIoAck), 'the acknowledgement')
    const ack = rec.frames.find(isSocketIoAck)
    expect(ack).toEqual({ type: SOCKET_IO_ACK, frame: join, response: [{ success: true, room: 'agent:a1' }], timedOut: false })
    expect(ack?.frame).toBe(join)
    rooms.publish('agent:updated', { agentId: 'a1', agent: { name: 'A' }, timestamp: 't' })
    const events = () => rec.frames.filter((f) => Array.isArray(f))
    await until(() => events().length === 1, 'the event')
    expect(events()[0]).toEqual(['agent:updated', { agentId: 'a1', agent: { name: 'A' }, timestamp: 't' }])
  })

  it('reports a drop as a retryable abnormal close and does not reconnect on its own', async () => {
    rooms = await startRoomsServer()
    cleanup.push(() => rooms.close())
    const rec = recorder()
    const conn = socketIoTransport().connect(rooms.url, rec.handlers)
    cleanup.push(() => conn.close())
    await until(() => rec.opened === 1, 'open')
    rooms.dropAll()
    await until(() => rec.closes.length === 1, 'the close')
    expect(rec.closes[0]?.code).toBe(1006)
    // Socket.IO's own reconnection is off: the only connection the server ever saw is the first.
    await until(() => rooms.connections() === 0, 'the server to forget the socket')
    expect(rooms.accepted).toBe(1)
  })

  it('reports a server-side disconnect as going away (1001), so the agentwire client retries it', async () => {
    rooms = await startRoomsServer()
    cleanup.push(() => rooms.close())
    const rec = recorder()
    const conn = socketIoTransport().connect(rooms.url, rec.handlers)
    cleanup.push(() => conn.close())
    await until(() => rooms.connections() === 1 && rec.opened === 1, 'open')
    // A polite Socket.IO disconnect, which socket.io-client alone would never retry.
    rooms.disconnectAll()
    await until(() => rec.closes.length === 1, 'the close')
    expect(rec.closes[0]).toEqual({ code: 1001, reason: 'io server disconnect' })
  })

  it('reports nothing after its own close()', async () => {
    rooms = await startRoomsServer()
    cleanup.push(() => rooms.close())
    const rec = recorder()
    const conn = socketIoTransport().connect(rooms.url, rec.handlers)
    await until(() => rec.opened === 1, 'open')
    conn.close()
    await until(() => rooms.connections() === 0, 'the server to see the socket leave')
    expect(rec.closes).toEqual([])
  })

  it('reports a refused handshake as a close, once', async () => {
    const rec = recorder()
    // Nothing listens on port 9 of loopback (discard service, closed on this machine).
    const conn = socketIoTransport({ socketOptions: { transports: ['websocket'] } }).connect('http://127.0.0.1:9', rec.handlers)
    cleanup.push(() => conn.close())
    await until(() => rec.closes.length === 1, 'the close')
    expect(rec.closes[0]?.code).toBe(1006)
    expect(rec.opened).toBe(0)
  })

  it('passes the handshake query, asked again on every connect, so a progress server joins the request room', async () => {
    progress = await startProgressServer()
    cleanup.push(() => progress.close())
    let n = 0
    const transport = socketIoTransport({ query: () => ({ requestId: `req-${++n}` }) })
    for (const id of ['req-1', 'req-2']) {
      const rec = recorder()
      const conn = transport.connect(progress.url, rec.handlers)
      cleanup.push(() => conn.close())
      await until(() => rec.opened === 1 && progress.connections() >= 1, 'open')
      progress.progress(id, { agent: 'executor-agent', step: 1, status: 'running' })
      await until(() => rec.frames.length === 1, `progress for ${id}`)
      expect(rec.frames[0]).toEqual(['progress', { type: 'progress', agent: 'executor-agent', step: 1, status: 'running' }])
      conn.close()
    }
  })
})
