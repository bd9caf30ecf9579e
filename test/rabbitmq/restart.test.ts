import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { memoryBroker, type StoredEvent } from 'agentwire/server'
import { ingestRabbitMQ } from 'agentwire/rabbitmq'
import { connect } from 'amqplib'
import { gate, ownRabbitMQ, stepMessage, until, type OwnRabbitMQ } from './helpers'

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** Publishes persistent messages with ids through a connection of its own, waiting for RabbitMQ's confirms. */
async function publish(url: string, exchange: string, steps: number[]): Promise<void> {
  const model = await connect(url)
  model.on('error', () => undefined)
  const channel = await model.createConfirmChannel()
  await channel.assertExchange(exchange, 'topic', { durable: true })
  for (const i of steps) channel.publish(exchange, 'executor.step.progress', Buffer.from(JSON.stringify(stepMessage('r-restart', i))), { persistent: true, messageId: `m-${i}` })
  await channel.waitForConfirms()
  await model.close()
}

describe('ingest across a RabbitMQ restart (a node of its own)', () => {
  let rabbit: OwnRabbitMQ
  beforeAll(async () => {
    rabbit = await ownRabbitMQ()
  }, 90_000)
  afterAll(async () => {
    await rabbit?.stop()
  }, 60_000)

  it('reconnects after the broker restarts and stores what it held, from disk, once and in order: 200 of 200', async () => {
    const exchange = 'agent.events'
    const broker = memoryBroker()
    const stored: StoredEvent[] = []
    await broker.subscribe('request:*', { event: (e) => void stored.push(e) })
    // Publishes wait at a door until the broker is down, so the restart comes with 20 messages
    // delivered and not acknowledged, and 80 more in the queue.
    const door = gate()
    const target = { publish: (channel: string, event: StoredEvent['event']) => door.passed.then(() => broker.publish(channel, event)) }
    const ingest = await ingestRabbitMQ(target, { url: rabbit.url, exchange, prefetch: 20, reconnect: { initialDelayMs: 50, maxDelayMs: 500 }, onError: () => undefined })
    const steps = () => stored.map((e) => (e.event.payload as { step: number }).step)
    try {
      await publish(rabbit.url, exchange, range(1, 100))
      await until(() => ingest.stats().received === 20, () => JSON.stringify(ingest.stats()))

      await rabbit.restart(async () => {
        await until(() => ingest.stats().lost === 1, () => JSON.stringify(ingest.stats()))
        expect(ingest.stats()).toMatchObject({ acked: 0, connected: false })
        // The 20 reach the broker while RabbitMQ is down; their acknowledgements cannot.
        door.open()
        await until(() => stored.length === 20, () => `stored ${stored.length}`)
      })
      await publish(rabbit.url, exchange, range(101, 200))

      await until(() => stored.length >= 200 && ingest.stats().pending === 0, () => `${JSON.stringify(ingest.stats())}, stored ${stored.length}`, 45_000)
      expect(steps()).toEqual(range(1, 200))
      expect(ingest.stats()).toMatchObject({ connected: true, lost: 1, published: 200, duplicates: 20 })
      expect(ingest.stats().reconnects).toBeGreaterThanOrEqual(1)
    } finally {
      await ingest.close()
      await broker.close()
    }
  }, 90_000)
})
