import WebSocket from 'ws'
import { afterEach, describe, expect, it } from 'vitest'
import { AgentwireError, ErrorCode, PROTOCOL_VERSION } from 'agentwire/protocol'
import type { AgentEvent } from 'agentwire/protocol'
import { createGateway, memoryBroker, type Broker, type StoredEvent } from 'agentwire/server'
import { ingestRabbitMQ, type IngestTarget, type RabbitIngest, type RabbitIngestOptions } from 'agentwire/rabbitmq'
import { AMQP_URL, closeConnectionsNamed, gate, seedAgent, stepMessage, uniqueName, until } from './helpers'

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const ROUTING_KEY = 'executor.step.progress'
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** A fresh exchange and queue on the shared RabbitMQ, the seed's agent publishing to it, and a broker recording one request's channel. */
async function setup(label: string) {
  const exchange = uniqueName(label)
  const queue = `${exchange}.q`
  const connectionName = `${exchange}.ingest`
  const agent = await seedAgent(exchange)
  cleanups.push(() => agent.close())
  cleanups.push(() => agent.deleteQueue(queue).catch(() => undefined))
  const broker = memoryBroker()
  cleanups.push(() => broker.close())
  const stored: StoredEvent[] = []
  await broker.subscribe('request:*', { event: (e) => void stored.push(e) })
  const errors: Error[] = []
  const start = async (target: IngestTarget = broker, extra: Partial<RabbitIngestOptions> = {}): Promise<RabbitIngest> => {
    const ingest = await ingestRabbitMQ(target, { url: AMQP_URL, exchange, queue, connectionName, reconnect: { initialDelayMs: 20, maxDelayMs: 200 }, onError: (e) => errors.push(e), ...extra })
    cleanups.push(() => ingest.close())
    return ingest
  }
  /** The step numbers stored on `request:{id}`, in stored order. */
  const steps = (requestId: string) => stored.filter((e) => e.channel === `request:${requestId}`).map((e) => (e.event.payload as { step: number }).step)
  /** Until `count` steps of `requestId` are stored, the queue is empty and nothing delivered waits for its acknowledgement. */
  const drained = (ingest: RabbitIngest, requestId: string, count: number) =>
    until(
      async () => steps(requestId).length >= count && ingest.stats().pending === 0 && (await agent.ready(queue)) === 0,
      () => `${JSON.stringify(ingest.stats())}, stored ${steps(requestId).length} of ${count}`,
    )
  return { exchange, queue, connectionName, agent, broker, stored, errors, start, steps, drained }
}

/** A broker whose publishes wait at a door the test opens: a gateway stuck between publish and ack. */
function behindDoor(broker: Broker) {
  const door = gate()
  const target: IngestTarget = { publish: (channel, event) => door.passed.then(() => broker.publish(channel, event)) }
  return { door, target }
}

describe('ingest of a RabbitMQ topic exchange', () => {
  it('turns the progress seed\'s messages on a topic exchange into positioned events that a client of the gateway receives in order', async () => {
    const { agent, broker, start } = await setup('live')
    const gateway = createGateway({ port: 0, host: '127.0.0.1', broker })
    cleanups.push(() => gateway.close({ drainMs: 100 }))
    await gateway.ready
    const ingest = await start(gateway)

    const N = 50
    const got: Array<{ seq: number; epoch: string; event: AgentEvent }> = []
    const ws = new WebSocket(gateway.url, { perMessageDeflate: false })
    cleanups.push(() => ws.terminate())
    let subscribed!: () => void
    const ready = new Promise<void>((r) => (subscribed = r))
    let all!: () => void
    const done = new Promise<void>((r) => (all = r))
    ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', v: PROTOCOL_VERSION })))
    ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as { type: string; [k: string]: any }
      if (f.type === 'welcome') ws.send(JSON.stringify({ type: 'subscribe', id: 's1', channels: [{ channel: 'request:r-live' }] }))
      else if (f.type === 'reply' && f.id === 's1') subscribed()
      else if (f.type === 'ping') ws.send(JSON.stringify({ type: 'pong', t: f.t }))
      else if (f.type === 'event' && f.channel === 'request:r-live') {
        got.push({ seq: f.seq, epoch: f.epoch, event: f.event })
        if (got.length === N) all()
      }
    })
    await ready

    await agent.publish(ROUTING_KEY, range(1, N).map((i) => stepMessage('r-live', i)))
    await Promise.race([done, until(() => false, () => `the client got ${got.length} of ${N}`, 20_000)])

    expect(got.map((e) => e.seq)).toEqual(range(1, N))
    expect(new Set(got.map((e) => e.epoch)).size).toBe(1)
    expect(got.map((e) => e.event.type)).toEqual(range(1, N).map(() => 'step.progress'))
    expect(got.map((e) => (e.event.payload as { step: number }).step)).toEqual(range(1, N))
    expect(got[0]!.event.payload).toMatchObject({ requestId: 'r-live', agent: 'executor-agent', status: 'running', stepId: 's1', tool: 'search' })
    await until(() => ingest.stats().acked === N, () => JSON.stringify(ingest.stats()))
    expect(ingest.stats()).toMatchObject({ received: N, published: N, acked: N, malformed: 0, lost: 0 })
  })

  it('survives its connection closed by the server while 50 messages are published and not yet acknowledged: each of 200 stored once, in order', async () => {
    const { agent, broker, connectionName, start, steps } = await setup('closed')
    const { door, target } = behindDoor(broker)
    const ingest = await start(target, { prefetch: 50 })
    const N = 200
    const ids = range(1, N).map((i) => `m-${i}`)

    await agent.publish(ROUTING_KEY, range(1, 100).map((i) => stepMessage('r-closed', i)), { messageIds: ids.slice(0, 100) })
    // The prefetch is full and every publish waits at the door: 50 delivered, none acknowledged.
    await until(() => ingest.stats().received === 50, () => JSON.stringify(ingest.stats()))
    expect(ingest.stats().acked).toBe(0)

    expect(await closeConnectionsNamed(connectionName)).toBe(1)
    await until(() => ingest.stats().lost === 1, () => JSON.stringify(ingest.stats()))
    expect(ingest.stats().connected).toBe(false)
    // Published while the consumer is down.
    await agent.publish(ROUTING_KEY, range(101, N).map((i) => stepMessage('r-closed', i)), { messageIds: ids.slice(100) })
    // The 50 reach the broker now, after their acknowledgements died with the channel.
    door.open()

    await until(() => ingest.stats().acked === N, () => `${JSON.stringify(ingest.stats())}, stored ${steps('r-closed').length}`)
    expect(steps('r-closed')).toEqual(range(1, N))
    const stats = ingest.stats()
    expect(stats).toMatchObject({ connected: true, lost: 1, reconnects: 1, published: N, duplicates: 50, failed: 0 })
    expect(stats.redelivered).toBe(50)
  })

  it('hands what a stuck gateway held unacknowledged to the standby gateway on the same queue when the first one\'s connection dies: 100 stored once, in order', async () => {
    const { agent, broker, exchange, start, steps, drained } = await setup('standby')
    const { door, target } = behindDoor(broker)
    const first = await start(target, { prefetch: 50, connectionName: `${exchange}.first` })
    // Before its close(), which waits for the publishes in flight.
    cleanups.push(() => door.fail())
    // Single active consumer: the second waits while the first consumes.
    const second = await start(broker, { connectionName: `${exchange}.second` })
    const N = 100
    await agent.publish(ROUTING_KEY, range(1, N).map((i) => stepMessage('r-standby', i)), { messageIds: range(1, N).map((i) => `m-${i}`) })
    await until(() => first.stats().received === 50, () => JSON.stringify(first.stats()))
    expect(second.stats().received).toBe(0)

    // The first gateway's publishes never finish (it hangs, then dies): RabbitMQ requeues its 50.
    expect(await closeConnectionsNamed(`${exchange}.first`)).toBe(1)
    await drained(second, 'r-standby', N)
    expect(steps('r-standby')).toEqual(range(1, N))
    expect(second.stats()).toMatchObject({ received: N, redelivered: 50, published: N, duplicates: 0 })
    expect(first.stats()).toMatchObject({ published: 0, acked: 0 })
  })

  it('delivers what was published while no gateway consumed, once one consumes again: 100 before, 300 while down, each stored once, in order', async () => {
    const { agent, queue, broker, start, steps } = await setup('down')
    const first = await start()
    await agent.publish(ROUTING_KEY, range(1, 100).map((i) => stepMessage('r-down', i)))
    await until(() => first.stats().acked === 100, () => JSON.stringify(first.stats()))
    await first.close()

    await agent.publish(ROUTING_KEY, range(101, 400).map((i) => stepMessage('r-down', i)))
    expect(await agent.ready(queue)).toBe(300)

    const second = await start(broker)
    await until(() => second.stats().acked === 300, () => JSON.stringify(second.stats()))
    expect(steps('r-down')).toEqual(range(1, 400))
    expect(second.stats()).toMatchObject({ received: 300, published: 300, redelivered: 0 })
  })

  it('ends the session when the broker refuses publishes (Redis away) and publishes the refused messages once it is back: none lost, none twice, in order', async () => {
    const { agent, broker, start, steps, drained } = await setup('refused')
    let calls = 0
    let away = false
    const target: IngestTarget = {
      publish(channel, event) {
        if (++calls === 30) away = true
        return away ? Promise.reject(new Error('redis unavailable')) : broker.publish(channel, event)
      },
    }
    const ingest = await start(target, { prefetch: 20 })
    const N = 100
    await agent.publish(ROUTING_KEY, range(1, N).map((i) => stepMessage('r-refused', i)), { messageIds: range(1, N).map((i) => `m-${i}`) })
    await until(() => ingest.stats().lost === 1, () => JSON.stringify(ingest.stats()))
    away = false

    await drained(ingest, 'r-refused', N)
    expect(steps('r-refused')).toEqual(range(1, N))
    expect(ingest.stats().failed).toBeGreaterThanOrEqual(1)
    expect(ingest.stats().reconnects).toBeGreaterThanOrEqual(1)
  })

  it('rejects a message whose event the gateway refuses for good, instead of taking it back for ever, and goes on with the next', async () => {
    const { agent, broker, start, steps, drained, errors } = await setup('refusal')
    const target: IngestTarget = {
      publish: (channel, event) =>
        (event.payload as { step: number }).step === 2 ? Promise.reject(new AgentwireError(ErrorCode.InvalidChannel, 'not a channel this gateway accepts')) : broker.publish(channel, event),
    }
    const ingest = await start(target)
    await agent.publish(ROUTING_KEY, range(1, 5).map((i) => stepMessage('r-refusal', i)))
    await drained(ingest, 'r-refusal', 4)
    expect(steps('r-refusal')).toEqual([1, 3, 4, 5])
    expect(ingest.stats()).toMatchObject({ received: 5, refused: 1, acked: 4, lost: 0, failed: 0, redelivered: 0 })
    expect(errors.filter((e) => e.message.includes('refused'))).toHaveLength(1)
  })

  it('declares its queue again when it is deleted under it (the consumer is cancelled), and goes on with what is published after', async () => {
    const { agent, queue, start, steps } = await setup('deleted')
    const ingest = await start()
    await agent.publish(ROUTING_KEY, range(1, 10).map((i) => stepMessage('r-deleted', i)))
    await until(() => ingest.stats().acked === 10, () => JSON.stringify(ingest.stats()))

    await agent.deleteQueue(queue)
    await until(() => ingest.stats().reconnects === 1 && ingest.stats().connected, () => JSON.stringify(ingest.stats()))
    await agent.publish(ROUTING_KEY, range(11, 20).map((i) => stepMessage('r-deleted', i)))
    await until(() => ingest.stats().acked === 20, () => JSON.stringify(ingest.stats()))
    expect(steps('r-deleted')).toEqual(range(1, 20))
  })

  it('rejects malformed messages without requeue, reports them without their content, and goes on', async () => {
    const { agent, start, steps, errors } = await setup('malformed')
    const ingest = await start()
    await agent.publish(ROUTING_KEY, [stepMessage('r-bad', 1)])
    await agent.publishRaw(ROUTING_KEY, Buffer.from('{"secret-token": '))
    await agent.publish(ROUTING_KEY, [stepMessage('r-bad', 2)])
    await until(() => ingest.stats().acked === 2 && ingest.stats().malformed === 1, () => JSON.stringify(ingest.stats()))
    expect(steps('r-bad')).toEqual([1, 2])
    const reports = errors.map((e) => e.message).filter((m) => m.includes('malformed'))
    expect(reports).toHaveLength(1)
    expect(reports[0]).not.toContain('secret-token')
  })
})
