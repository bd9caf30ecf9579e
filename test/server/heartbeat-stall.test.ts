import { createConnection as connectTcp, createServer, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createGatewayCore, type GatewaySocket } from 'agentwire/server'

/**
 * The heartbeat judges the peer's silence, not the gateway's own: when the gateway's event loop
 * was blocked past the timeout (a GC pause, a burst of work, a starved CPU), the heartbeat sweep
 * runs before the input that arrived meanwhile has been read, and a pong waiting in the socket
 * must still count. No timing threshold here: the stall is a synchronous busy loop placed so that
 * the pong is in the kernel's buffer while the sweep runs first, which is how Node orders its
 * phases (timers before I/O).
 */

const opened: Array<() => void> = []
afterEach(() => {
  for (const close of opened.splice(0)) close()
})

/** A loopback TCP pair: bytes written on `a` arrive on `b` as real input, read in the poll phase. */
async function pair(): Promise<{ a: Socket; b: Socket }> {
  const server: Server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  const accepted = new Promise<Socket>((r) => server.once('connection', r))
  const a = connectTcp(port, '127.0.0.1')
  await new Promise<void>((r) => a.once('connect', r))
  const b = await accepted
  opened.push(() => (a.destroy(), b.destroy(), server.close()))
  return { a, b }
}

function busyWait(ms: number): void {
  const end = Date.now() + ms
  while (Date.now() < end) {
    // The gateway process is stalled.
  }
}

describe('heartbeat after the gateway itself stalled', () => {
  it('reads the pong that arrived during the stall before judging the connection dead', async () => {
    const timeoutMs = 20
    const core = createGatewayCore({ heartbeat: { intervalMs: timeoutMs, timeoutMs } })
    const { a, b } = await pair()
    const state = { pings: 0, terminated: false }
    let stalled = false
    const socket: GatewaySocket = {
      send: () => undefined,
      close: () => undefined,
      terminate: () => void (state.terminated = true),
      ping() {
        state.pings++
        if (stalled) return void a.write('p')
        stalled = true
        // The peer answers at once, but this process is busy for 5 timeouts before it can read
        // anything; the next thing it runs is the heartbeat sweep (a due timer), then the input.
        setImmediate(() => {
          a.write('p')
          busyWait(5 * timeoutMs)
        })
      },
      bufferedAmount: 0,
    }
    const connection = core.accept(socket, { headers: {} })!
    b.on('data', () => connection.pong())
    connection.receive('{"type":"hello","v":1}')
    // Bounded: each further ping comes one interval after the previous pong.
    for (let i = 0; i < 500 && state.pings < 4 && !state.terminated; i++) await new Promise((r) => setTimeout(r, 5))
    expect(state.terminated).toBe(false)
    expect(state.pings).toBeGreaterThanOrEqual(4)
    expect(core.stats().drops.heartbeat_timeout).toBeUndefined()
    connection.closed()
    await core.close()
  })

  it('still drops a peer that stays silent', async () => {
    const timeoutMs = 20
    const core = createGatewayCore({ heartbeat: { intervalMs: timeoutMs, timeoutMs } })
    const state = { pings: 0, terminated: false }
    const socket: GatewaySocket = {
      send: () => undefined,
      close: () => undefined,
      terminate: () => void (state.terminated = true),
      ping: () => void state.pings++,
      bufferedAmount: 0,
    }
    const connection = core.accept(socket, { headers: {} })!
    connection.receive('{"type":"hello","v":1}')
    for (let i = 0; i < 500 && !state.terminated; i++) await new Promise((r) => setTimeout(r, 5))
    expect(state.terminated).toBe(true)
    expect(state.pings).toBe(1)
    expect(core.stats().drops).toEqual({ heartbeat_timeout: 1 })
    connection.closed()
    await core.close()
  })
})
