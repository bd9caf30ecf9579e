import { describe, expect, it } from 'vitest'
import { PROTOCOL_VERSION } from 'agentwire/protocol'
import { createRegistry } from './support/registry'
import { command, connect, nextId, open, subscribe } from './support/client'
import { startGateway, status } from './support/gateway'
import { manualClock } from './support/clock'
import { clientFrame, rawHandshake, serverFrames } from './support/raw'

const registry = createRegistry()
const tick = () => new Promise<void>((r) => setImmediate(r))

describe('L5 rate limit', () => {
  it('answers a flood of 1,000 frames with rate_limited, then closes it with 4429, while another connection is unaffected', async () => {
    // A clock that stands still: the bucket never refills, so the counts are exact on any machine.
    const clock = manualClock()
    const gateway = await startGateway(registry, { clock })
    const calm = await open(gateway.url, registry)
    await subscribe(calm, ['agent:calm'])
    const flood = await open(gateway.url, registry)
    for (let i = 0; i < 1000; i++) flood.send({ type: 'ack', id: `a${i}`, channel: 'agent:x' })
    expect((await flood.closed).code).toBe(4429)
    const replies = flood.frames.filter((f) => f.type === 'reply')
    const accepted = replies.filter((f) => f.ok)
    const limited = replies.filter((f) => !f.ok && f.error.code === 'rate_limited')
    // Burst 100, the hello took one; then 99 refusals answered, and the 100th in a row closes.
    expect(accepted).toHaveLength(99)
    expect(limited).toHaveLength(99)
    expect(limited[0]!.error.retryable).toBe(true)
    expect(replies).toHaveLength(198)
    expect(await command(calm, { type: 'ack', channel: 'agent:calm' })).toMatchObject({ ok: true })
    await gateway.publish('agent:calm', status('calm'))
    await calm.waitForFrame((f) => f.type === 'event')
    expect(gateway.stats().drops.rate_limited).toBe(101)
  })

  it('refills the bucket over time: a client within the rate is never refused', async () => {
    const clock = manualClock()
    const gateway = await startGateway(registry, { clock, limits: { rate: { perSecond: 10, burst: 5 } } })
    const client = await open(gateway.url, registry)
    for (let round = 0; round < 5; round++) {
      clock.advance(500) // refills the 5 tokens a round spends (the hello spent one of the first)
      for (let i = 0; i < 5; i++) expect(await command(client, { type: 'ack', channel: 'agent:a' })).toMatchObject({ ok: true })
    }
    expect(await command(client, { type: 'ack', channel: 'agent:a' })).toMatchObject({ ok: false, error: { code: 'rate_limited' } })
    expect(gateway.stats().drops.rate_limited).toBe(1)
  })
})

describe('L3 channels per connection', () => {
  it('accepts 128 of 1,000 requested channels, refuses the rest with a typed error, and keeps the connection', async () => {
    const gateway = await startGateway(registry)
    const client = await open(gateway.url, registry)
    const results: Array<{ ok: boolean; error?: { code: string } }> = []
    for (let batch = 0; batch < 20; batch++) {
      const channels = Array.from({ length: 50 }, (_, i) => `task:t${batch * 50 + i}`)
      results.push(...(await subscribe(client, channels)).result)
    }
    expect(results.filter((r) => r.ok)).toHaveLength(128)
    expect(results.filter((r) => !r.ok && r.error?.code === 'too_many_channels')).toHaveLength(872)
    expect(gateway.stats().subscriptions.total).toBe(128)
    // Room again after an unsubscribe.
    const id = nextId()
    client.send({ type: 'unsubscribe', id, channels: ['task:t0'] })
    await client.waitForFrame((f) => f.id === id)
    expect((await subscribe(client, ['task:t999'])).result[0]).toMatchObject({ ok: true })
  })
})

describe('L2 slow consumer', () => {
  it('closes a client that stopped reading with 4503, while a healthy client on the same channel gets every event', async () => {
    const gateway = await startGateway(registry)
    const healthy = await open(gateway.url, registry)
    await subscribe(healthy, ['agent:hot'])

    // The slow client speaks the protocol over a plain TCP socket, so it can stop reading.
    const { socket } = await rawHandshake(gateway.url)
    registry.track(() => socket.destroy())
    socket.on('error', () => undefined)
    const received: Buffer[] = []
    socket.on('data', (c: Buffer) => received.push(c))
    socket.write(clientFrame(0x1, Buffer.from(JSON.stringify({ type: 'hello', v: PROTOCOL_VERSION })), true))
    socket.write(clientFrame(0x1, Buffer.from(JSON.stringify({ type: 'subscribe', id: 's', channels: [{ channel: 'agent:hot' }] })), true))
    await expect.poll(() => gateway.stats().subscriptions.total).toBe(2)
    socket.pause()

    const pad = 'x'.repeat(1000)
    let published = 0
    // Bounded: at most 40 MB, stopping as soon as the gateway cuts the slow client off.
    while (published < 40_000 && !gateway.stats().drops.slow_consumer) {
      for (let i = 0; i < 50; i++) {
        await gateway.publish('agent:hot', { type: 'agent.status', payload: { name: 'hot', status: 'busy', agent: { pad } } })
        published++
      }
      await tick()
      if (published % 1000 === 0) await healthy.waitForFrame((f) => f.type === 'event' && f.seq === published, 30_000)
    }
    expect(gateway.stats().drops.slow_consumer).toBe(1)
    await healthy.waitForFrame((f) => f.type === 'event' && f.seq === published, 30_000)
    const seqs = healthy.frames.filter((f) => f.type === 'event').map((f) => f.seq)
    expect(seqs).toEqual(Array.from({ length: published }, (_, i) => i + 1))
    expect(healthy.ws.readyState).toBe(1)

    // Reading again, the slow client finds the close frame after what was already queued.
    socket.resume()
    await expect.poll(() => serverFrames(Buffer.concat(received)).some((f) => f.opcode === 8), { timeout: 30_000 }).toBe(true)
    const close = serverFrames(Buffer.concat(received)).find((f) => f.opcode === 8)!
    expect(close.payload.readUInt16BE(0)).toBe(4503)
  })
})

describe('L2 bursts are not backlog', () => {
  it('replays a window bigger than maxBufferedBytes in one burst without closing the client', async () => {
    const gateway = await startGateway(registry, { limits: { maxBufferedBytes: 256 * 1024 } })
    const pad = 'y'.repeat(1500)
    let epoch = ''
    for (let i = 0; i < 600; i++) epoch = (await gateway.publish('agent:big', { type: 'agent.status', payload: { name: 'big', status: 'busy', agent: { pad } } })).epoch
    const client = await open(gateway.url, registry)
    const reply = await subscribe(client, [{ channel: 'agent:big', resume: [{ channel: 'agent:big', epoch, seq: 0 }] }])
    expect(reply.result[0]).toMatchObject({ ok: true, recovered: true })
    await client.waitForFrame((f) => f.type === 'event' && f.seq === 600, 30_000)
    expect(client.frames.filter((f) => f.type === 'event')).toHaveLength(600)
    expect(client.ws.readyState).toBe(1)
    expect(gateway.stats().drops.slow_consumer).toBeUndefined()
  })
})

describe('heartbeat', () => {
  it('pings idle clients and drops the one that stops answering', async () => {
    const clock = manualClock()
    const gateway = await startGateway(registry, { clock, heartbeat: { intervalMs: 1000, timeoutMs: 1000 } })
    const alive = await open(gateway.url, registry)
    const dead = await open(gateway.url, registry, {}, { autoPong: false })
    const pinged = (c: typeof alive) => new Promise<void>((r) => c.ws.once('ping', () => r()))
    const pings = [pinged(alive), pinged(dead)]
    clock.advance(1000)
    await Promise.all(pings)
    // The live client's pong (sent automatically) travels before this frame on the same socket.
    expect(await command(alive, { type: 'ack', channel: 'agent:a' })).toMatchObject({ ok: true })
    clock.advance(1000)
    expect((await dead.closed).code).toBe(1006)
    expect(alive.ws.readyState).toBe(1)
    expect(gateway.stats().drops.heartbeat_timeout).toBe(1)
    expect(gateway.stats().connections).toBe(1)
  })

  it('answers an application ping with a pong carrying the same t', async () => {
    const gateway = await startGateway(registry)
    const client = await open(gateway.url, registry)
    client.send({ type: 'ping', t: 42 })
    expect(await client.waitForFrame((f) => f.type === 'pong')).toEqual({ type: 'pong', t: 42 })
  })
})

describe('graceful close', () => {
  it('sends every client 1012 and accepts no new connection', async () => {
    const gateway = await startGateway(registry)
    const clients = await Promise.all([1, 2, 3].map(() => open(gateway.url, registry)))
    const url = gateway.url
    await gateway.close({ drainMs: 5000 })
    for (const client of clients) expect((await client.closed).code).toBe(1012)
    await expect(connect(url, registry)).rejects.toThrow()
  })

  it('closes the broker only when it created it', async () => {
    const { memoryBroker } = await import('agentwire/server')
    const broker = memoryBroker()
    const gateway = await startGateway(registry, { broker })
    await gateway.close()
    await expect(broker.publish('agent:a', status('a'))).resolves.toMatchObject({ seq: 1 })
    const own = await startGateway(registry)
    await own.close()
    await expect(own.broker.publish('agent:a', status('a'))).rejects.toThrow()
  })
})

describe('HTTP', () => {
  it('reports connections, subscriptions, frame rates and drops on GET /stats', async () => {
    const gateway = await startGateway(registry)
    const client = await open(gateway.url, registry)
    await subscribe(client, ['agent:a', 'agent:*'])
    const bad = await open(gateway.url, registry)
    bad.send('nope')
    await bad.closed
    const res = await fetch(`http://127.0.0.1:${gateway.port}/stats`)
    expect(res.headers.get('content-type')).toMatch(/application\/json/)
    const stats = await res.json()
    expect(stats).toMatchObject({
      connections: 1,
      subscriptions: { total: 2, channels: { 'agent:a': 1, 'agent:*': 1 } },
      drops: { bad_frame: 1 },
      broker: 'memory',
    })
    expect(stats.framesIn.total).toBeGreaterThanOrEqual(4)
    expect(stats.framesOut.total).toBeGreaterThanOrEqual(4)
    expect(typeof stats.framesIn.perSecond).toBe('number')
    expect(stats.uptimeMs).toBeGreaterThanOrEqual(0)
  })

  it('tries the http hook first (the dashboard), then its own routes, then 404', async () => {
    const gateway = await startGateway(registry, {
      http: (req, res) => {
        if (req.url !== '/') return false
        res.end('dashboard')
        return true
      },
    })
    const base = `http://127.0.0.1:${gateway.port}`
    expect(await (await fetch(`${base}/`)).text()).toBe('dashboard')
    expect((await fetch(`${base}/stats`)).status).toBe(200)
    expect((await fetch(`${base}/nothing`)).status).toBe(404)
    await expect(connect(`ws://127.0.0.1:${gateway.port}/elsewhere`, registry)).rejects.toMatchObject({ status: 404 })
  })

  it('attaches to a server of yours and listens where it does', async () => {
    const { createServer } = await import('node:http')
    const server = createServer((req, res) => res.end('mine'))
    registry.track(() => new Promise((r) => server.close(r)))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const gateway = await startGateway(registry, { server, path: '/live' })
    expect(gateway.url).toBe(`ws://127.0.0.1:${(server.address() as { port: number }).port}/live`)
    const client = await open(gateway.url, registry)
    expect(client.ws.readyState).toBe(1)
  })
})
