import { describe, expect, it } from 'vitest'
import { createRegistry } from './support/registry'
import { command, connect, nextId, open, subscribe, type Frame } from './support/client'
import { startGateway, status } from './support/gateway'

const registry = createRegistry()
const isEvent = (channel: string) => (f: Frame) => f.type === 'event' && f.channel === channel

describe('subscribe, replay and snapshots', () => {
  it('answers a first subscribe with recovered:false and the channel snapshot, then live events', async () => {
    const gateway = await startGateway(registry)
    await gateway.publish('agent:planner', status('planner', 1))
    const client = await open(gateway.url, registry)
    const reply = await subscribe(client, ['AGENT:planner'])
    expect(reply).toMatchObject({ ok: true, result: [{ ok: true, channel: 'agent:planner', recovered: false }] })
    const state = await client.waitForFrame((f) => f.type === 'state')
    expect(state).toMatchObject({ channel: 'agent:planner', seq: 1, reason: 'initial' })
    expect(state.state).toHaveProperty('agents')
    await gateway.publish('agent:planner', status('planner', 2))
    expect(await client.waitForFrame(isEvent('agent:planner'))).toMatchObject({ seq: 2, epoch: state.epoch, event: { payload: { load: 2 } } })
  })

  it('sends one snapshot per known channel for a pattern, then every matching live event', async () => {
    const gateway = await startGateway(registry)
    await gateway.publish('agent:a', status('a'))
    await gateway.publish('agent:b', status('b'))
    await gateway.publish('task:t', { type: 'task.started', payload: { taskId: 't' } })
    const client = await open(gateway.url, registry)
    await subscribe(client, ['agent:*'])
    const a = await client.waitForFrame((f) => f.type === 'state' && f.channel === 'agent:a')
    await client.waitForFrame((f) => f.type === 'state' && f.channel === 'agent:b')
    await gateway.publish('agent:c', status('c'))
    expect(await client.waitForFrame(isEvent('agent:c'))).toMatchObject({ seq: 1, epoch: a.epoch })
    expect(client.frames.some((f) => f.channel === 'task:t')).toBe(false)
  })

  it('resumes inside the window with exactly the missed events, then live, with no gap or duplicate while publishing concurrently', async () => {
    const gateway = await startGateway(registry)
    const first = await open(gateway.url, registry)
    await subscribe(first, ['agent:x'])
    const state = await first.waitForFrame((f) => f.type === 'state')
    for (let i = 1; i <= 20; i++) await gateway.publish('agent:x', status('x', i))
    await first.waitForFrame((f) => f.type === 'event' && f.seq === 20)
    first.close()
    for (let i = 21; i <= 50; i++) await gateway.publish('agent:x', status('x', i))

    const second = await open(gateway.url, registry)
    // Publish while the resume is in flight: every event must arrive once, in order.
    let publishing = true
    const publisher = (async () => {
      for (let i = 51; i <= 250 && publishing; i++) {
        await gateway.publish('agent:x', status('x', i))
        if (i % 10 === 0) await new Promise((r) => setImmediate(r))
      }
    })()
    const reply = await subscribe(second, [{ channel: 'agent:x', resume: [{ channel: 'agent:x', epoch: state.epoch, seq: 20 }] }])
    expect(reply.result).toEqual([{ ok: true, channel: 'agent:x', recovered: true }])
    await publisher
    publishing = false
    await second.waitForFrame((f) => f.type === 'event' && f.seq === 250)
    const seqs = second.frames.filter(isEvent('agent:x')).map((f) => f.seq)
    expect(seqs).toEqual(Array.from({ length: 230 }, (_, i) => i + 21))
    expect(second.frames.some((f) => f.type === 'state')).toBe(false)
  })

  it('restores subscriptions given in hello.resume and answers them in the welcome', async () => {
    const gateway = await startGateway(registry)
    const stored = await gateway.publish('agent:x', status('x', 1))
    await gateway.publish('agent:x', status('x', 2))
    const client = await connect(gateway.url, registry)
    const welcome = await client.hello({ resume: [{ channel: 'agent:x', resume: [{ channel: 'agent:x', epoch: stored.epoch, seq: 1 }] }, { channel: 'agent:y' }] })
    expect(welcome.subscriptions).toEqual([
      { ok: true, channel: 'agent:x', recovered: true },
      { ok: true, channel: 'agent:y', recovered: false },
    ])
    expect(welcome).toMatchObject({ v: 1, heartbeatMs: 25_000, limits: { maxPayload: 65_536, maxChannels: 128 } })
    expect(typeof welcome.session).toBe('string')
    expect(await client.waitForFrame(isEvent('agent:x'))).toMatchObject({ seq: 2 })
    expect(await client.waitForFrame((f) => f.type === 'state')).toMatchObject({ channel: 'agent:y', seq: 0, reason: 'initial' })
  })

  it('answers a position older than the window with recovered:false and a state frame marked window, never a partial replay', async () => {
    const gateway = await startGateway(registry, { retention: { size: 5 } })
    let epoch = ''
    for (let i = 1; i <= 12; i++) epoch = (await gateway.publish('agent:x', status('x', i))).epoch
    const client = await open(gateway.url, registry)
    const reply = await subscribe(client, [{ channel: 'agent:x', resume: [{ channel: 'agent:x', epoch, seq: 3 }] }])
    expect(reply.result).toEqual([{ ok: true, channel: 'agent:x', recovered: false }])
    expect(await client.waitForFrame((f) => f.type === 'state')).toMatchObject({ reason: 'window', seq: 12, epoch })
    await gateway.publish('agent:x', status('x', 13))
    await client.waitForFrame(isEvent('agent:x'))
    expect(client.frames.filter(isEvent('agent:x')).map((f) => f.seq)).toEqual([13])
  })

  it('answers a foreign epoch with a state frame marked epoch', async () => {
    const gateway = await startGateway(registry)
    await gateway.publish('agent:x', status('x'))
    const client = await open(gateway.url, registry)
    const reply = await subscribe(client, [{ channel: 'agent:x', resume: [{ channel: 'agent:x', epoch: 'an-older-gateway', seq: 1 }] }])
    expect(reply.result[0].recovered).toBe(false)
    expect(await client.waitForFrame((f) => f.type === 'state')).toMatchObject({ reason: 'epoch', seq: 1 })
  })

  it('answers a position from the future with a snapshot and no replay', async () => {
    const gateway = await startGateway(registry)
    const stored = await gateway.publish('agent:x', status('x'))
    const client = await open(gateway.url, registry)
    const reply = await subscribe(client, [{ channel: 'agent:x', resume: [{ channel: 'agent:x', epoch: stored.epoch, seq: 99 }] }])
    expect(reply.result[0].recovered).toBe(false)
    expect(await client.waitForFrame((f) => f.type === 'state')).toMatchObject({ reason: 'epoch', seq: 1 })
    expect(client.frames.some((f) => f.type === 'event')).toBe(false)
  })

  it('re-syncs an already subscribed channel without duplicating live delivery', async () => {
    const gateway = await startGateway(registry)
    const client = await open(gateway.url, registry)
    await subscribe(client, ['agent:x'])
    await client.waitForFrame((f) => f.type === 'state')
    await subscribe(client, ['agent:x'])
    await client.waitForFrame((f) => f.type === 'state')
    await gateway.publish('agent:x', status('x'))
    await gateway.publish('agent:x', status('x', 2))
    await client.waitForFrame((f) => f.type === 'event' && f.seq === 2)
    expect(client.frames.filter(isEvent('agent:x')).map((f) => f.seq)).toEqual([1, 2])
    expect(gateway.stats().subscriptions.channels).toEqual({ 'agent:x': 1 })
  })

  it('shares one broker subscription per channel across connections and releases it on unsubscribe', async () => {
    const gateway = await startGateway(registry)
    const a = await open(gateway.url, registry)
    const b = await open(gateway.url, registry)
    await subscribe(a, ['agent:x'])
    await subscribe(b, ['agent:x'])
    expect(gateway.stats().subscriptions).toEqual({ total: 2, channels: { 'agent:x': 2 } })
    const id = nextId()
    a.send({ type: 'unsubscribe', id, channels: ['agent:x'] })
    expect(await a.waitForFrame((f) => f.id === id)).toMatchObject({ ok: true, result: { channels: ['agent:x'] } })
    await gateway.publish('agent:x', status('x'))
    await b.waitForFrame(isEvent('agent:x'))
    expect(a.frames.some(isEvent('agent:x'))).toBe(false)
    b.close()
    await b.closed
    await expect.poll(() => gateway.stats().subscriptions.total).toBe(0)
  })

  it('answers rejoin with the request state (reason rejoin), then follows the request', async () => {
    const gateway = await startGateway(registry)
    const starter = await open(gateway.url, registry)
    const started = await command(starter, { type: 'start', requestId: 'req-1', query: 'plan a trip' })
    expect(started).toMatchObject({ ok: true, result: { requestId: 'req-1', channel: 'request:req-1', seq: 1 } })
    const reloaded = await open(gateway.url, registry)
    const id = nextId()
    reloaded.send({ type: 'rejoin', id, requestId: 'req-1' })
    const state = await reloaded.waitForFrame((f) => f.type === 'state')
    expect(state).toMatchObject({ channel: 'request:req-1', reason: 'rejoin', requestId: 'req-1', seq: 1 })
    const reply = await reloaded.waitForFrame((f) => f.type === 'reply' && f.id === id)
    expect(reply).toMatchObject({ ok: true, result: { channel: 'request:req-1', seq: 1, epoch: state.epoch } })
    // State before reply: the client's store holds the request when rejoin() resolves.
    expect(reloaded.frames.indexOf(state)).toBeLessThan(reloaded.frames.indexOf(reply))
    await gateway.publish('request:req-1', { type: 'request.completed', payload: { requestId: 'req-1', result: { ok: 1 } } })
    expect(await reloaded.waitForFrame(isEvent('request:req-1'))).toMatchObject({ seq: 2, event: { type: 'request.completed' } })
  })

  it('runs start, cancel and feedback with the default handler, publishing request events', async () => {
    const gateway = await startGateway(registry, { authenticate: (token) => (token ? { id: token } : null) })
    const client = await open(gateway.url, registry, { token: 'alice' })
    await subscribe(client, ['request:r1'])
    await command(client, { type: 'start', requestId: 'r1', query: 'q', context: { lang: 'en' } })
    await command(client, { type: 'feedback', requestId: 'r1', questionId: 'q1', answer: 'yes' })
    expect(await command(client, { type: 'cancel', requestId: 'r1', reason: 'done' })).toMatchObject({ ok: true })
    await client.waitForFrame((f) => f.type === 'event' && f.seq === 3)
    expect(client.frames.filter(isEvent('request:r1')).map((f) => [f.event.type, f.event.payload])).toEqual([
      ['request.started', { requestId: 'r1', query: 'q', context: { lang: 'en' }, userId: 'alice' }],
      ['request.feedback', { requestId: 'r1', questionId: 'q1', answer: 'yes', userId: 'alice' }],
      ['request.cancelled', { requestId: 'r1', reason: 'done', userId: 'alice' }],
    ])
  })

  it('answers a re-sent command id with the same reply without running it twice', async () => {
    let runs = 0
    const gateway = await startGateway(registry, {
      onCommand: async (cmd, ctx) => {
        runs++
        return cmd.type === 'start' ? { accepted: cmd.requestId, by: (await ctx.defaultHandler()) as object } : undefined
      },
    })
    const client = await open(gateway.url, registry)
    const first = await command(client, { id: 'same', type: 'start', requestId: 'r9', query: 'q' })
    const again = await command(client, { id: 'same', type: 'start', requestId: 'r9', query: 'q' })
    expect(again.result).toEqual(first.result)
    expect(runs).toBe(1)
    // A new id for the same request is a conflict, not a second run.
    expect(await command(client, { type: 'start', requestId: 'r9', query: 'q' })).toMatchObject({ ok: false, error: { code: 'conflict' } })
    expect(runs).toBe(1)
  })

  it('refuses cancel and feedback from a principal that did not start the request', async () => {
    const logs: string[] = []
    const gateway = await startGateway(registry, {
      authenticate: (token) => (token ? { id: token } : null),
      logger: (entry) => logs.push(JSON.stringify(entry)),
    })
    const alice = await open(gateway.url, registry, { token: 'alice' })
    const mallory = await open(gateway.url, registry, { token: 'mallory' })
    await command(alice, { type: 'start', requestId: 'r2', query: 'q' })
    expect(await command(mallory, { type: 'cancel', requestId: 'r2' })).toMatchObject({ ok: false, error: { code: 'forbidden' } })
    expect(await command(mallory, { type: 'feedback', requestId: 'r2', questionId: 'q', answer: 1 })).toMatchObject({ ok: false, error: { code: 'forbidden' } })
    expect(await command(mallory, { type: 'start', requestId: 'r2', query: 'hijack' })).toMatchObject({ ok: false, error: { code: 'forbidden' } })
    expect(await command(alice, { type: 'cancel', requestId: 'r2' })).toMatchObject({ ok: true })
    expect(logs.filter((l) => l.includes('belongs to another principal') && l.includes('mallory'))).toHaveLength(3)
    const snapshot = await gateway.broker.snapshot('request:r2')
    expect(snapshot.seq).toBe(2)
  })
})
