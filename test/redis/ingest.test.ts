import { afterEach, describe, expect, it } from 'vitest'
import { decodeSeedMessage, ingestSeedChannels, redisBroker, type RedisBroker } from 'agentwire/redis'
import { deletePrefix, rawClient, REDIS_URL, uniquePrefix, waitFor, type StoredEvent } from './helpers'

const open: Array<{ close(): Promise<void> }> = []
const prefixes: string[] = []
afterEach(async () => {
  for (const c of open.splice(0)) await c.close()
  for (const p of prefixes.splice(0)) await deletePrefix(p)
})

// The routing seed's own examples, with its "..." filled in.
const ROUTING_DECISION = JSON.stringify({
  type: 'routing_decision',
  payload: { taskId: 'task-42', agent: { name: 'coder', strengths: ['python', 'tests'], cost: 0.3, latency: 120 }, timestamp: 1234567890 },
})
const AGENT_STATUS = JSON.stringify({ type: 'agent_status', payload: { name: 'coder', status: 'busy', load: 0.7 } })
// The webgui seed's example message, exactly.
const WEBGUI_SESSION = JSON.stringify({
  type: 'session_status_changed',
  timestamp: '2024-01-01T12:00:00Z',
  session_id: 'sess_123',
  data: { status: 'testing', progress: 45, message: 'Executing UI tests...' },
})

async function setup() {
  const prefix = uniquePrefix('ingest')
  prefixes.push(prefix)
  const broker: RedisBroker = redisBroker({ url: REDIS_URL, prefix, onError: () => undefined })
  open.push(broker)
  const errors: Error[] = []
  const ingest = await ingestSeedChannels(broker, { url: REDIS_URL, onError: (e) => errors.push(e) })
  open.push(ingest)
  const seed = await rawClient()
  open.push(seed)
  return { broker, ingest, seed, errors }
}

describe('ingest of the seed backends\' Redis channels', () => {
  it('turns the routing engine\'s messages into positioned routing.decision and agent.status events', async () => {
    const { broker, seed } = await setup()
    const got: StoredEvent[] = []
    const wait = waitFor(() => got.length >= 3, () => `got ${JSON.stringify(got)}`)
    await broker.subscribe('task:*', { event: (e) => (got.push(e), wait.poke()) })
    await broker.subscribe('agent:*', { event: (e) => (got.push(e), wait.poke()) })

    await seed.publish('task:routing', ROUTING_DECISION)
    await seed.publish('agent:status', AGENT_STATUS)
    // The bare payload, as some routing engines publish it.
    await seed.publish('agent:status', JSON.stringify({ name: 'coder', status: 'available', load: 0.1 }))
    await wait.done

    const decision = got.find((e) => e.channel === 'task:task-42')
    expect(decision).toMatchObject({ seq: 1, event: { type: 'routing.decision', payload: JSON.parse(ROUTING_DECISION).payload } })
    const statuses = got.filter((e) => e.channel === 'agent:coder')
    expect(statuses.map((e) => [e.seq, e.event.type, e.event.payload])).toEqual([
      [1, 'agent.status', { name: 'coder', status: 'busy', load: 0.7 }],
      [2, 'agent.status', { name: 'coder', status: 'available', load: 0.1 }],
    ])
    // Positioned and replayable, which the seed's own Pub/Sub never was.
    const replay = await broker.read('agent:coder', { epoch: statuses[0]!.epoch, seq: 0 })
    expect(replay.ok && replay.events.map((e) => e.seq)).toEqual([1, 2])
  })

  it('turns the webgui example on webgui:session:sess_123 into session.status on session:sess_123', async () => {
    const { broker, seed } = await setup()
    const got: StoredEvent[] = []
    const wait = waitFor(() => got.length >= 1, () => 'nothing yet')
    await broker.subscribe('session:sess_123', { event: (e) => (got.push(e), wait.poke()) })
    await seed.publish('webgui:session:sess_123', WEBGUI_SESSION)
    await wait.done
    expect(got[0]).toMatchObject({
      channel: 'session:sess_123',
      seq: 1,
      event: { type: 'session.status', payload: { sessionId: 'sess_123', status: 'testing', progress: 45, message: 'Executing UI tests...', timestamp: '2024-01-01T12:00:00Z' } },
    })
    const snap = await broker.snapshot('session:sess_123')
    expect(snap.seq).toBe(1)
  })

  it('counts and reports malformed messages without their content, and keeps going', async () => {
    const { broker, ingest, seed, errors } = await setup()
    const got: StoredEvent[] = []
    const wait = waitFor(() => got.length >= 3 && ingest.stats().malformed >= 2, () => JSON.stringify(ingest.stats()))
    await broker.subscribe('agent:*', { event: (e) => (got.push(e), wait.poke()) })
    const secret = 'SECRET-CANARY-9f3a'
    await seed.publish('agent:status', `{"name": "${secret}", not json`)
    await seed.publish('agent:status', JSON.stringify({ type: 'agent_status', payload: { name: secret, status: 'sleeping' } }))
    await seed.publish('task:routing', JSON.stringify([secret]))
    await seed.publish('webgui:session:s1', JSON.stringify({ data: secret }))
    await seed.publish('agent:status', `{"__proto__": {"polluted": "${secret}"}, "name": "ok", "status": "busy"}`)
    await seed.publish('agent:status', AGENT_STATUS)
    await wait.done
    // Not JSON, and a webgui message with no type, are malformed; a JSON array on task:routing
    // has no type the routing seed names (ignored); a status word the seed never listed passes
    // as it came (lenient abroad).
    expect(ingest.stats()).toMatchObject({ malformed: 2, ignored: 1, received: 6 })
    expect(got.map((e) => e.channel)).toEqual([`agent:${secret}`, 'agent:ok', 'agent:coder'])
    expect(got[0]!.event.payload).toMatchObject({ status: 'sleeping' })
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(errors.length).toBe(2)
    for (const e of errors) expect(e.message).not.toContain(secret)
  })

  it('maps every webgui channel family to its canonical channel', () => {
    const note = (type: string, data: Record<string, unknown>) => JSON.stringify({ type, timestamp: 't', session_id: 's1', data })
    expect(decodeSeedMessage('webgui:agent:coder', note('agent_status_changed', { agent: 'coder', status: 'busy' }))).toMatchObject({
      ok: true,
      events: [{ channel: 'agent:coder', event: { type: 'agent.status', payload: { name: 'coder', status: 'busy' } } }],
    })
    expect(decodeSeedMessage('webgui:global', note('notification', { message: 'deploy done' }))).toMatchObject({
      ok: true,
      events: [{ channel: 'global', event: { type: 'system.notification', payload: { level: 'info', message: 'deploy done' } } }],
    })
    expect(decodeSeedMessage('webgui:user:7', note('notification', { level: 'warning', message: 'quota' }))).toMatchObject({
      ok: true,
      events: [{ channel: 'user:7', event: { type: 'system.notification' } }],
    })
    expect(decodeSeedMessage('webgui:weird:1', note('notification', { message: 'x' }))).toMatchObject({ ok: true, events: [] })
    expect(decodeSeedMessage('webgui:session:s1', 'not json')).toMatchObject({ ok: false })
  })
})
