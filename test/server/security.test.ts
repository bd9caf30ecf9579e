import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { PROTOCOL_VERSION } from 'agentwire/protocol'
import type { LogEntry, Principal } from 'agentwire/server'
import { createRegistry } from './support/registry'
import { command, connect, nextId, open, subscribe, type Frame, type RawClient } from './support/client'
import { startGateway, status } from './support/gateway'
import { rawHandshake } from './support/raw'
import { manualClock, type ManualClock } from './support/clock'

const registry = createRegistry()
const byToken = (token: string | undefined) => (token ? { id: token } : null)

describe('X1 Origin allowlist', () => {
  const allowedOrigins = ['https://example.com']

  it.each([
    'https://evil.net',
    'https://example.com.evil.net',
    'https://evil-example.com',
    'null',
    'https://EXAMPLE.com',
    'https://example.com.',
    'https://example.com:8443',
    'http://example.com',
    'https://example.com/',
  ])('answers Origin %s with HTTP 403 before the upgrade', async (origin) => {
    const gateway = await startGateway(registry, { allowedOrigins })
    await expect(connect(gateway.url, registry, { origin })).rejects.toMatchObject({ status: 403 })
    expect(gateway.stats()).toMatchObject({ connections: 0, pendingHandshakes: 0, drops: { origin: 1 } })
  })

  it('accepts the exact allowed origin', async () => {
    const gateway = await startGateway(registry, { allowedOrigins })
    const client = await open(gateway.url, registry, {}, { origin: 'https://example.com' })
    expect(client.ws.readyState).toBe(1)
  })

  it('allows a missing Origin by default, and refuses it when allowMissingOrigin is false', async () => {
    const lenient = await startGateway(registry, { allowedOrigins })
    expect((await open(lenient.url, registry)).ws.readyState).toBe(1)
    const strict = await startGateway(registry, { allowedOrigins, allowMissingOrigin: false })
    await expect(connect(strict.url, registry)).rejects.toMatchObject({ status: 403 })
  })
})

describe('X2 authentication placement and deadline', () => {
  it('closes a connection that sends no hello with 4408 at the deadline', async () => {
    const gateway = await startGateway(registry, { limits: { authTimeoutMs: 200 } })
    const client = await connect(gateway.url, registry)
    expect((await client.closed).code).toBe(4408)
    expect(gateway.stats().drops.auth_timeout).toBe(1)
    expect(gateway.stats().pendingHandshakes).toBe(0)
  })

  it('closes a second hello with 4429', async () => {
    const gateway = await startGateway(registry)
    const client = await open(gateway.url, registry)
    client.send({ type: 'hello', v: PROTOCOL_VERSION })
    expect((await client.closed).code).toBe(4429)
  })

  it('closes a command before the welcome with 4401, also while authenticate is still running', async () => {
    const waiting: Array<() => void> = []
    const gateway = await startGateway(registry, { authenticate: (t) => new Promise((r) => waiting.push(() => r(byToken(t)))) })
    const first = await connect(gateway.url, registry)
    first.send({ type: 'subscribe', id: 'a', channels: [{ channel: 'agent:a' }] })
    expect((await first.closed).code).toBe(4401)
    const second = await connect(gateway.url, registry)
    second.send({ type: 'hello', v: PROTOCOL_VERSION, token: 'alice' })
    second.send({ type: 'subscribe', id: 'b', channels: [{ channel: 'agent:a' }] })
    expect((await second.closed).code).toBe(4401)
    // authenticate answers after the close: nothing is welcomed.
    for (const release of waiting) release()
    expect(second.frames).toEqual([])
  })

  it('closes a refused token with 4401 and a wrong protocol version with 4406', async () => {
    const gateway = await startGateway(registry, { authenticate: (t) => (t === 'good' ? 'alice' : null) })
    const refused = await connect(gateway.url, registry)
    refused.send({ type: 'hello', v: PROTOCOL_VERSION, token: 'bad' })
    expect((await refused.closed).code).toBe(4401)
    const old = await connect(gateway.url, registry)
    old.send({ type: 'hello', v: PROTOCOL_VERSION + 1, token: 'good' })
    expect((await old.closed).code).toBe(4406)
  })

  it('authenticates from the hello frame alone: the URL carries no token', async () => {
    const seen: Array<{ token: string | undefined; url: string | undefined }> = []
    const gateway = await startGateway(registry, {
      authenticate: (token, handshake) => {
        seen.push({ token, url: handshake.url })
        return byToken(token)
      },
    })
    await open(gateway.url, registry, { token: 'alice' })
    expect(seen).toEqual([{ token: 'alice', url: '/ws' }])
  })
})

describe('X3 per-user channel authorization', () => {
  const sessions: Record<string, string> = { A: 'sA', B: 'sB' }
  const grants = new Set<string>()
  const authorize = (p: Principal, channel: string) =>
    channel === `user:${p.id}` || channel === `session:${sessions[p.id]}` || grants.has(`${p.id}>${channel}`)

  it.each([
    'user:B',
    'session:sB',
    '*',
    'user:*',
    'session:*',
    'user:B*',
  ])('refuses A a subscription to %s with a typed forbidden error and keeps the connection', async (channel) => {
    const gateway = await startGateway(registry, { authenticate: byToken, authorize })
    const a = await open(gateway.url, registry, { token: 'A' })
    const reply = await subscribe(a, [channel])
    expect(reply.result[0]).toMatchObject({ ok: false, error: { code: 'forbidden', retryable: false } })
    expect(await subscribe(a, ['user:A'])).toMatchObject({ result: [{ ok: true }] })
  })

  it.each([
    ['user:A/../B'],
    ['user:..'],
    ['user:%2e%2e'],
    ['user:В'],
    ['user:B '],
    ['user:' + 'B'.repeat(10_000).slice(0, 150)],
    ['user:B:x'],
    ['webgui::B'],
  ])('refuses the odd name %j before authorizing it', async (channel) => {
    let asked = 0
    const gateway = await startGateway(registry, { authenticate: byToken, authorize: (p, channel) => (asked++, authorize(p, channel)) })
    const a = await open(gateway.url, registry, { token: 'A' })
    const reply = await subscribe(a, [channel])
    expect(reply.result[0]).toMatchObject({ ok: false, error: { code: 'invalid_channel' } })
    expect(asked).toBe(0)
  })

  it("lets none of 1,000 events on B's channels reach A's socket", async () => {
    const gateway = await startGateway(registry, { authenticate: byToken, authorize })
    const a = await open(gateway.url, registry, { token: 'A' })
    const b = await open(gateway.url, registry, { token: 'B' })
    await subscribe(a, ['user:B', 'session:sB', '*', 'user:*', 'user:A'])
    await subscribe(b, ['user:B', 'session:sB'])
    for (let i = 0; i < 500; i++) {
      await gateway.publish('user:B', status('b', i))
      await gateway.publish('session:sB', { type: 'session.status', payload: { sessionId: 'sB', status: `s${i}` } })
    }
    await gateway.publish('user:A', status('a'))
    await a.waitForFrame((f) => f.type === 'event' && f.channel === 'user:A')
    await b.waitForFrame((f) => f.type === 'event' && f.channel === 'session:sB' && f.seq === 500)
    expect(a.frames.filter((f) => f.channel === 'user:B' || f.channel === 'session:sB')).toEqual([])
  })

  it('re-authorizes on resume: after the grant is revoked, the backlog and live events stay out', async () => {
    grants.add('A>chat:shared')
    const gateway = await startGateway(registry, { authenticate: byToken, authorize })
    const a = await open(gateway.url, registry, { token: 'A' })
    await subscribe(a, ['chat:shared'])
    const first = await gateway.publish('chat:shared', { type: 'chat.message.created', payload: { chatId: 'shared', messageId: 'm1' } })
    await a.waitForFrame((f) => f.type === 'event')
    a.close()
    grants.delete('A>chat:shared')
    for (let i = 2; i <= 50; i++) await gateway.publish('chat:shared', { type: 'chat.message.created', payload: { chatId: 'shared', messageId: `m${i}` } })

    const again = await connect(gateway.url, registry)
    const welcome = await again.hello({ token: 'A', resume: [{ channel: 'chat:shared', resume: [{ channel: 'chat:shared', epoch: first.epoch, seq: 1 }] }] })
    expect(welcome.subscriptions).toEqual([{ ok: false, channel: 'chat:shared', error: expect.objectContaining({ code: 'forbidden' }) }])
    await gateway.publish('chat:shared', { type: 'chat.message.created', payload: { chatId: 'shared', messageId: 'm51' } })
    await subscribe(again, ['user:A'])
    await gateway.publish('user:A', status('a'))
    await again.waitForFrame((f) => f.type === 'event' && f.channel === 'user:A')
    expect(again.frames.filter((f) => f.channel === 'chat:shared')).toEqual([])
  })

  it('drops a live subscription whose grant is gone when it is re-synced', async () => {
    grants.add('A>chat:team')
    const gateway = await startGateway(registry, { authenticate: byToken, authorize })
    const a = await open(gateway.url, registry, { token: 'A' })
    await subscribe(a, ['chat:team'])
    grants.delete('A>chat:team')
    expect((await subscribe(a, ['chat:team'])).result[0]).toMatchObject({ ok: false, error: { code: 'forbidden' } })
    await gateway.publish('chat:team', { type: 'chat.deleted', payload: { chatId: 'team' } })
    await subscribe(a, ['user:A'])
    await gateway.publish('user:A', status('a'))
    await a.waitForFrame((f) => f.type === 'event' && f.channel === 'user:A')
    expect(a.frames.filter((f) => f.type === 'event' && f.channel === 'chat:team')).toEqual([])
  })
})

describe('X4 token expiry, refresh and revocation', () => {
  /** Tokens look like `name.lifetimeMs`: each expires that long after it was checked, on the test's clock. */
  const expiring = (clock: ManualClock) => (token: string | undefined) => {
    const [name, ms] = (token ?? '').split('.')
    return name ? { principal: { id: name }, expiresAt: clock.now() + Number(ms ?? 60_000) } : null
  }

  it('asks for a refresh before expiry; a fresh token keeps the connection and its subscriptions', async () => {
    const clock = manualClock()
    const gateway = await startGateway(registry, { clock, authenticate: expiring(clock), token: { refreshBeforeMs: 300, graceMs: 300 } })
    const client = await open(gateway.url, registry, { token: 'alice.800' })
    await subscribe(client, ['agent:x'])
    clock.advance(499)
    clock.advance(1)
    const refresh = await client.waitForFrame((f) => f.type === 'refresh')
    expect(refresh.expiresAt).toBe(clock.now() + 300)
    expect(client.frames.filter((f) => f.type === 'refresh')).toHaveLength(1)
    expect(await command(client, { type: 'auth', token: 'alice.60000' })).toMatchObject({ ok: true, result: { expiresAt: clock.now() + 60_000 } })
    // Well past the first token's expiry and grace: still open, still subscribed.
    clock.advance(5_000)
    await gateway.publish('agent:x', status('x'))
    expect(await client.waitForFrame((f) => f.type === 'event')).toMatchObject({ seq: 1 })
    expect(client.ws.readyState).toBe(1)
  })

  it('closes with 4410 at expiry plus grace when no fresh token comes, and refuses a refresh for another principal', async () => {
    const clock = manualClock()
    const gateway = await startGateway(registry, { clock, authenticate: expiring(clock), token: { refreshBeforeMs: 200, graceMs: 200 } })
    const client = await open(gateway.url, registry, { token: 'alice.500' })
    clock.advance(300)
    await client.waitForFrame((f) => f.type === 'refresh')
    expect(await command(client, { type: 'auth', token: 'mallory.60000' })).toMatchObject({ ok: false, error: { code: 'forbidden' } })
    expect(await command(client, { type: 'auth', token: '' })).toMatchObject({ ok: false, error: { code: 'unauthorized' } })
    clock.advance(399) // expiry (500) + grace (200) is 700 after the hello
    expect(await command(client, { type: 'ack', channel: 'agent:a' })).toMatchObject({ ok: true })
    clock.advance(1)
    expect((await client.closed).code).toBe(4410)
    expect(gateway.stats().drops.token_expired).toBe(1)
  })

  it("closes every socket of a revoked principal with 4401, and no one else's", async () => {
    const gateway = await startGateway(registry, { authenticate: byToken })
    const tabs = await Promise.all([1, 2, 3].map(() => open(gateway.url, registry, { token: 'alice' })))
    const bob = await open(gateway.url, registry, { token: 'bob' })
    expect(gateway.revoke('alice')).toBe(3)
    for (const tab of tabs) expect((await tab.closed).code).toBe(4401)
    expect(await command(bob, { type: 'ack', channel: 'agent:a' })).toMatchObject({ ok: true })
    expect(gateway.stats().connections).toBe(1)
  })
})

describe('X5 the token is never written anywhere', () => {
  it('keeps a canary token out of logs, close reasons, errors, replies and stats', async () => {
    const canary = `agentwire-canary-${randomUUID()}`
    const logs: LogEntry[] = []
    const gateway = await startGateway(registry, {
      logger: (e) => logs.push(e),
      authenticate: (token) => {
        if (token === canary) return { principal: { id: 'canary-user' }, expiresAt: Date.now() + 60_000 }
        if (token?.startsWith(canary)) throw new Error(`bad token ${token}`)
        return null
      },
      limits: { authTimeoutMs: 300 },
    })
    const seen: Array<Frame | { code: number; reason: string }> = []
    const track = async (client: RawClient) => seen.push(await client.closed, ...client.frames)

    const good = await open(gateway.url, registry, { token: canary })
    await command(good, { type: 'auth', token: canary })
    await command(good, { type: 'auth', token: `${canary}x` })
    await subscribe(good, ['user:canary-user', `agent:${canary.slice(0, 20)}`])
    good.send(`{"type":"hello","v":1,"token":"${canary}"}`)
    await track(good)

    const thrown = await connect(gateway.url, registry)
    thrown.send({ type: 'hello', v: PROTOCOL_VERSION, token: `${canary}-throws` })
    await track(thrown)
    const refused = await connect(gateway.url, registry)
    refused.send({ type: 'hello', v: PROTOCOL_VERSION, token: 'wrong' })
    await track(refused)
    const malformed = await connect(gateway.url, registry)
    malformed.send(`{"type":"hello","v":1,"token":"${canary}"`)
    await track(malformed)
    const tooLong = await connect(gateway.url, registry)
    tooLong.send({ type: 'hello', v: PROTOCOL_VERSION, token: canary.repeat(300) })
    await track(tooLong)

    // Offered as a subprotocol (as some clients do): never echoed in the response.
    const { socket, response } = await rawHandshake(gateway.url, { 'Sec-WebSocket-Protocol': `agentwire, ${canary}` })
    registry.track(() => socket.destroy())
    expect(response).not.toContain(canary)
    expect(response.toLowerCase()).not.toContain('sec-websocket-protocol')

    const everything = JSON.stringify({ logs, seen, stats: gateway.stats() })
    expect(everything).not.toContain(canary)
    expect(logs.length).toBeGreaterThan(0)
  })
})

describe('X6 resource caps', () => {
  it('closes the 11th connection of one principal with 4430', async () => {
    const gateway = await startGateway(registry, { authenticate: byToken })
    for (let i = 0; i < 10; i++) await open(gateway.url, registry, { token: 'bob' })
    const eleventh = await connect(gateway.url, registry)
    eleventh.send({ type: 'hello', v: PROTOCOL_VERSION, token: 'bob' })
    expect((await eleventh.closed).code).toBe(4430)
    expect(gateway.stats().connections).toBe(10)
    await open(gateway.url, registry, { token: 'carol' })
  })

  it('refuses handshakes past the pending cap with HTTP 503, and closes each pending one at the deadline', async () => {
    const gateway = await startGateway(registry, { limits: { maxPendingHandshakes: 5, authTimeoutMs: 400 } })
    const pending = await Promise.all([1, 2, 3, 4, 5].map(() => connect(gateway.url, registry)))
    expect(gateway.stats().pendingHandshakes).toBe(5)
    await expect(connect(gateway.url, registry)).rejects.toMatchObject({ status: 503 })
    for (const client of pending) expect((await client.closed).code).toBe(4408)
    await expect.poll(() => gateway.stats().pendingHandshakes).toBe(0)
    await open(gateway.url, registry)
  })
})
