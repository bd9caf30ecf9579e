import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { LogEntry } from 'agentwire/server'
import { createRegistry } from './support/registry'
import { command, connect, open, subscribe, type RawClient } from './support/client'
import { startGateway, status } from './support/gateway'
import { clientFrame, rawHandshake } from './support/raw'

const registry = createRegistry()

/** A healthy client on `agent:ok`; proves other connections are unaffected. */
async function bystander(url: string): Promise<RawClient> {
  const client = await open(url, registry)
  await subscribe(client, ['agent:ok'])
  return client
}

async function stillServed(gateway: { publish: (c: string, e: ReturnType<typeof status>) => Promise<{ seq: number }> }, client: RawClient) {
  const stored = await gateway.publish('agent:ok', status('ok'))
  await client.waitForFrame((f) => f.type === 'event' && f.seq === stored.seq)
}

describe('B1 malformed frames', () => {
  const SECRET = 'do-not-echo-this-payload'
  it.each([
    ['truncated JSON', `{"type":"subscribe","id":"${SECRET}"`],
    ['non-JSON text', `hello ${SECRET}`],
    ['an empty frame', ''],
  ])('closes %s with 4400, logs without echoing it, and keeps other connections', async (_name, text) => {
    const logs: LogEntry[] = []
    const gateway = await startGateway(registry, { logger: (e) => logs.push(e) })
    const other = await bystander(gateway.url)
    const client = await open(gateway.url, registry)
    client.send(text)
    const { code, reason } = await client.closed
    expect(code).toBe(4400)
    expect(reason).not.toContain(SECRET)
    expect(JSON.stringify(logs)).not.toContain(SECRET)
    expect(gateway.stats().drops.bad_frame).toBe(1)
    await stillServed(gateway, other)
  })

  it('closes a binary frame with 4400', async () => {
    const gateway = await startGateway(registry)
    const other = await bystander(gateway.url)
    const client = await open(gateway.url, registry)
    client.ws.send(Buffer.from('{"type":"ping"}'), { binary: true })
    expect((await client.closed).code).toBe(4400)
    await stillServed(gateway, other)
  })

  it('closes text that is not UTF-8 with 4400, also as the first frame', async () => {
    const gateway = await startGateway(registry)
    const other = await bystander(gateway.url)
    const client = await connect(gateway.url, registry)
    client.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false })
    expect((await client.closed).code).toBe(4400)
    await stillServed(gateway, other)
  })

  it('trims a close reason to 123 bytes (unknown frame type with a long name)', async () => {
    const gateway = await startGateway(registry)
    const client = await open(gateway.url, registry)
    client.send({ type: 'é'.repeat(200) })
    const { code, reason } = await client.closed
    expect(code).toBe(4400)
    expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123)
    expect(reason.length).toBeGreaterThan(0)
  })
})

describe('B2 schema-invalid frames', () => {
  it.each([
    ['subscribe with a string for channels', { type: 'subscribe', id: 's', channels: 'agent:a' }],
    ['a seq given as a string', { type: 'subscribe', id: 's', channels: [{ channel: 'agent:a', resume: [{ channel: 'agent:a', epoch: 'e', seq: '7' }] }] }],
    ['a missing id', { type: 'start', requestId: 'r', query: 'q' }],
    ['an enum value outside the enum', { type: 'ack', channel: 'agent:a', kind: 'paused' }],
    ['an empty subscribe', { type: 'subscribe', id: 's', channels: [] }],
  ])('closes %s with 4400', async (_name, frame) => {
    const gateway = await startGateway(registry)
    const client = await open(gateway.url, registry)
    client.send(frame)
    expect((await client.closed).code).toBe(4400)
  })

  it('refuses 10,000-deep nesting without a stack overflow', async () => {
    const gateway = await startGateway(registry)
    const other = await bystander(gateway.url)
    const client = await open(gateway.url, registry)
    client.send(`{"type":"ping","t":${'['.repeat(10_000)}${']'.repeat(10_000)}}`)
    expect((await client.closed).code).toBe(4400)
    await stillServed(gateway, other)
  })

  it('refuses NaN and Infinity (not JSON)', async () => {
    const gateway = await startGateway(registry)
    const client = await open(gateway.url, registry)
    client.send('{"type":"ping","t":NaN}')
    expect((await client.closed).code).toBe(4400)
  })
})

describe('B3 unknown client frame types', () => {
  // The gateway's decision: an unknown *client* frame type is a protocol this gateway does not
  // speak, so it closes with 4400 (as graphql-ws does). Clients, the other way round, skip
  // unknown server frames. Unknown extra fields are stripped, not fatal.
  it('closes an unknown type with 4400', async () => {
    const gateway = await startGateway(registry)
    const client = await open(gateway.url, registry)
    client.send({ type: 'publish', id: 'x', channel: 'agent:a' })
    const { code, reason } = await client.closed
    expect(code).toBe(4400)
    expect(reason).toMatch(/unknown client frame type/)
  })

  it('accepts unknown extra fields on a known frame', async () => {
    const gateway = await startGateway(registry)
    const client = await open(gateway.url, registry)
    client.send({ type: 'subscribe', id: 'x1', channels: [{ channel: 'agent:a', extra: true }], future: 1 })
    expect(await client.waitForFrame((f) => f.id === 'x1')).toMatchObject({ ok: true })
  })
})

describe('B4 prototype keys', () => {
  it('lets no __proto__, constructor or prototype key reach Object.prototype or a published event', async () => {
    const gateway = await startGateway(registry, { limits: { rate: { perSecond: 100_000, burst: 100_000 } } })
    const client = await open(gateway.url, registry)
    await subscribe(client, ['request:*'])
    const poison = '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},"prototype":{"polluted":1}}'
    for (let i = 0; i < 300; i++) {
      client.send(
        `{"type":"start","id":"p${i}","requestId":"r${i}","query":"q","context":{"nested":${poison},"__proto__":{"polluted":1}},"__proto__":{"polluted":1}}`,
      )
      client.send(`{"type":"subscribe","id":"s${i}","channels":[{"channel":"agent:a","__proto__":{"polluted":1}}],"constructor":{"x":1}}`)
      // Stay under the per-connection queue (256 frames waiting) however slow the machine is.
      if (i % 50 === 49) await client.waitForFrame((f) => f.type === 'reply' && f.id === `s${i}`, 30_000)
    }
    const last = await client.waitForFrame((f) => f.type === 'event' && f.channel === 'request:r299', 30_000)
    expect(client.frames.filter((f) => f.type === 'error')).toEqual([])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.prototype).not.toHaveProperty('polluted')
    const context = last.event.payload.context
    expect(Object.keys(context)).toEqual(['nested'])
    expect(Object.keys(context.nested)).toEqual([])
    const stored = await gateway.broker.read('request:r299', { epoch: last.epoch, seq: 0 })
    const payload = stored.ok ? (stored.events[0]!.event.payload as { context: object }) : undefined
    expect(payload && Object.getPrototypeOf(payload.context)).toBe(Object.prototype)
    expect(payload && Object.prototype.hasOwnProperty.call(payload.context, '__proto__')).toBe(false)
  })

  it('strips prototype keys from an event published in-process', async () => {
    const gateway = await startGateway(registry)
    const event = JSON.parse('{"type":"agent.status","payload":{"name":"a","status":"busy","__proto__":{"polluted":1}}}')
    const stored = await gateway.publish('agent:a', event)
    expect(Object.prototype.hasOwnProperty.call(stored.event.payload, '__proto__')).toBe(false)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})

describe('B5 huge frames and compression', () => {
  it('closes a 65,537-byte frame with 1009 and keeps serving others', async () => {
    const gateway = await startGateway(registry)
    const other = await bystander(gateway.url)
    const client = await open(gateway.url, registry)
    client.send({ type: 'ping', pad: 'x'.repeat(65_537) })
    expect((await client.closed).code).toBe(1009)
    await stillServed(gateway, other)
    expect(gateway.stats().drops.message_too_big).toBe(1)
  })

  it('closes a 10 MiB frame with 1009', async () => {
    const gateway = await startGateway(registry)
    const client = await open(gateway.url, registry)
    client.send('x'.repeat(10 * 1024 * 1024))
    expect((await client.closed).code).toBe(1009)
  })

  it('never negotiates permessage-deflate, even when the client offers it', async () => {
    const gateway = await startGateway(registry)
    const client = await connect(gateway.url, registry, { perMessageDeflate: true })
    expect(client.ws.extensions).toBe('')
    const { socket, response } = await rawHandshake(gateway.url, { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' })
    registry.track(() => socket.destroy())
    expect(response).toMatch(/^HTTP\/1.1 101/)
    expect(response.toLowerCase()).not.toContain('sec-websocket-extensions')
  })
})

describe('B6 fragment flood', () => {
  it('closes a connection sending 200,000 one-byte continuation frames, and still serves another client', async () => {
    const gateway = await startGateway(registry)
    const other = await bystander(gateway.url)
    const { socket } = await rawHandshake(gateway.url)
    registry.track(() => socket.destroy())
    const closed = new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = []
      socket.on('data', (c: Buffer) => chunks.push(c))
      socket.on('close', () => resolve(Buffer.concat(chunks)))
    })
    socket.on('error', () => undefined)
    // A text frame without FIN, then continuation frames of one byte each (mask of zeros: 7 bytes a frame).
    const continuation = Buffer.from([0x00, 0x81, 0, 0, 0, 0, 0x78])
    const flood = Buffer.alloc(7 * 200_000)
    for (let i = 0; i < 200_000; i++) continuation.copy(flood, i * 7)
    socket.write(Buffer.concat([clientFrame(0x1, Buffer.from('x'), false), flood]))
    const received = await closed
    // The close frame ws sent before cutting the connection: opcode 8, code 1008 (too many fragments).
    const at = received.indexOf(0x88)
    expect(at).toBeGreaterThanOrEqual(0)
    expect(received.readUInt16BE(at + 2)).toBe(1008)
    await stillServed(gateway, other)
    const client = await open(gateway.url, registry)
    expect(await command(client, { type: 'ack', channel: 'agent:ok', seq: 1 })).toMatchObject({ ok: true })
  })
})
