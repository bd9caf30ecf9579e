import { expect, it } from 'vitest'
import { initialState, reduce } from 'agentwire/protocol'
import { BrokerError, createPublisher, redisBroker, type RedisBroker } from 'agentwire/redis'
import { eventually, rawClient, recorder, statusEvent, uniquePrefix, until, type StoredEvent } from './helpers'
import { ownRedisSuite } from './redis-server'

// Every fault here is done to a redis-server this file starts on its own port: the shared
// Redis at 6379 is never killed, paused or reconfigured.
const { suite, redis, open } = ownRedisSuite('test/redis/faults')

function broker(prefix: string, size = 1000, errors: Error[] = []): RedisBroker {
  const b = redisBroker({ url: redis().url, prefix, retention: { size, maxAgeMs: 0 }, onError: (e) => errors.push(e) })
  open.push(b)
  return b
}

suite('Redis faults (own redis-server)', () => {
  it('S3: CLIENT KILL TYPE pubsub while 3,000 events are published: resubscribed and caught up, nothing lost, nothing twice', async () => {
    const prefix = uniquePrefix('s3kill')
    const publisher = createPublisher({ url: redis().url, prefix })
    open.push(publisher)
    const gateway = broker(prefix)
    const rec = recorder()
    await gateway.subscribe('agent:*', rec.listener)
    const admin = await rawClient(redis().url)
    open.push(admin)

    const channels = ['agent:a', 'agent:b', 'agent:c']
    const published: StoredEvent[] = []
    let killed = 0
    for (let chunk = 0; chunk < 60; chunk++) {
      const batch = Array.from({ length: 50 }, (_, i) => {
        const n = chunk * 50 + i
        return publisher.publish(channels[n % 3]!, statusEvent('x', n))
      })
      if (chunk % 12 === 5) killed += Number(await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']))
      published.push(...(await Promise.all(batch)))
    }
    expect(killed).toBeGreaterThanOrEqual(5)

    await until(rec, () => rec.events().length >= 3000, () => `got ${rec.events().length} of 3000`)
    for (const channel of channels) {
      expect(rec.events(channel)).toEqual(published.filter((e) => e.channel === channel))
      expect(rec.events(channel).map((e) => e.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1))
    }
    expect(rec.resyncs()).toEqual([])
    expect(rec.audit()).toEqual({ silentGaps: [], duplicates: [] })
  })

  it('S4: the subscriber is dropped by client-output-buffer-limit and the log no longer reaches back: resync "gap", then live again', async () => {
    const prefix = uniquePrefix('s4')
    const admin = await rawClient(redis().url)
    open.push(admin)
    await admin.sendCommand(['CONFIG', 'SET', 'client-output-buffer-limit', 'pubsub 4kb 2kb 1'])
    try {
      const writer = broker(prefix, 10)
      const gateway = broker(prefix, 10)
      const rec = recorder()
      await gateway.subscribe('agent:big', rec.listener)
      // Group commit sends these in script calls of up to 256 events; each call's PUBLISHes
      // pile up in the subscriber's output buffer beyond 4 kB, and Redis drops it.
      await Promise.all(Array.from({ length: 600 }, (_, i) => writer.publish('agent:big', statusEvent('big', i))))
      await until(rec, () => rec.resyncs('agent:big').includes('gap'), () => JSON.stringify(rec.resyncs()))
      const last = await eventually(() => writer.publish('agent:big', statusEvent('big', 600)))
      expect(last.seq).toBe(601)
      await until(rec, () => rec.events('agent:big').at(-1)?.seq === 601, () => `last ${rec.events('agent:big').at(-1)?.seq}`)
      expect(rec.audit()).toEqual({ silentGaps: [], duplicates: [] })
      // The window reaches back only ~10 events: the snapshot is what converges.
      expect(await gateway.read('agent:big', { epoch: last.epoch, seq: 1 })).toEqual({ ok: false, reason: 'window' })
      const snap = await gateway.snapshot('agent:big')
      expect(snap.seq).toBe(601)
    } finally {
      await admin.sendCommand(['CONFIG', 'SET', 'client-output-buffer-limit', 'pubsub 33554432 8388608 60'])
    }
  })

  it('S5: CLIENT PAUSE 1500 ALL during a stream: events resume in order, nothing lost', async () => {
    const prefix = uniquePrefix('s5')
    const writer = broker(prefix)
    const gateway = broker(prefix)
    const rec = recorder()
    await gateway.subscribe('task:*', rec.listener)
    const admin = await rawClient(redis().url)
    open.push(admin)
    const first = Promise.all(Array.from({ length: 200 }, (_, i) => writer.publish('task:t1', { type: 'task.progress', payload: { taskId: 't1', progress: i % 101 } })))
    await admin.sendCommand(['CLIENT', 'PAUSE', '1500', 'ALL'])
    const second = Promise.all(Array.from({ length: 200 }, (_, i) => writer.publish('task:t1', { type: 'task.progress', payload: { taskId: 't1', progress: i % 101 } })))
    const published = [...(await first), ...(await second)]
    await until(rec, () => rec.events().length >= 400, () => `got ${rec.events().length}`)
    expect(rec.events('task:t1').map((e) => e.seq)).toEqual(published.map((e) => e.seq))
    expect(published.map((e) => e.seq)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1))
    expect(rec.resyncs()).toEqual([])
  })

  it('S6b: the channel\'s keys vanish (FLUSHALL for one prefix): subscribers get resync "epoch", old positions read as "epoch"', async () => {
    const prefix = uniquePrefix('s6')
    const writer = broker(prefix)
    const gateway = broker(prefix)
    const rec = recorder()
    await gateway.subscribe('agent:a', rec.listener)
    const old = await writer.publish('agent:a', statusEvent('a', 1))
    await until(rec, () => rec.events().length === 1, () => 'first event')
    const admin = await rawClient(redis().url)
    open.push(admin)
    await admin.del([`${prefix}:meta:agent:a`, `${prefix}:log:agent:a`])
    const fresh = await writer.publish('agent:a', statusEvent('a', 2))
    expect(fresh).toMatchObject({ seq: 1 })
    expect(fresh.epoch).not.toBe(old.epoch)
    await until(rec, () => rec.resyncs('agent:a').length === 1, () => JSON.stringify(rec.log))
    expect(rec.resyncs('agent:a')).toEqual(['epoch'])
    expect(await gateway.read('agent:a', { epoch: old.epoch, seq: 1 })).toEqual({ ok: false, reason: 'epoch' })
    const next = await writer.publish('agent:a', statusEvent('a', 3))
    await until(rec, () => rec.events('agent:a').at(-1)?.seq === next.seq && rec.events('agent:a').at(-1)?.epoch === next.epoch, () => JSON.stringify(rec.log))
    expect(rec.audit()).toEqual({ silentGaps: [], duplicates: [] })
    expect((await gateway.snapshot('agent:a')).state).toEqual([fresh.event, next.event].reduce(reduce, initialState()))
  })

  it('S3: redis-server killed (-9) and restarted: publish rejects with a BrokerError meanwhile, subscribers resubscribe and resync "epoch", nothing thrown', async () => {
    const prefix = uniquePrefix('s3restart')
    const errors: Error[] = []
    const writer = broker(prefix, 1000, errors)
    const gateway = broker(prefix, 1000, errors)
    const rec = recorder()
    await gateway.subscribe('agent:*', rec.listener)
    const before = await Promise.all(Array.from({ length: 100 }, (_, i) => writer.publish('agent:r', statusEvent('r', i))))
    await until(rec, () => rec.events().length >= 100, () => `got ${rec.events().length}`)

    await redis().kill()
    const during = await writer.publish('agent:r', statusEvent('r', 100)).then(
      () => undefined,
      (err: unknown) => err,
    )
    expect(during).toBeInstanceOf(BrokerError)
    expect(during).toMatchObject({ retryable: true })

    const restartedAt = Date.now()
    await redis().start()
    // The data lived only in memory: the first publish after the restart opens a new epoch.
    const after = await eventually(() => writer.publish('agent:r', statusEvent('r', 101)))
    expect(after.seq).toBe(1)
    expect(after.epoch).not.toBe(before[0]!.epoch)
    await until(rec, () => rec.resyncs('agent:r').includes('epoch'), () => JSON.stringify(rec.resyncs()))
    const more = await Promise.all(Array.from({ length: 50 }, (_, i) => writer.publish('agent:r', statusEvent('r', 102 + i))))
    await until(rec, () => rec.events('agent:r').at(-1)?.seq === more.at(-1)!.seq && rec.events('agent:r').at(-1)?.epoch === after.epoch, () => `last ${JSON.stringify(rec.events('agent:r').at(-1))}`)
    console.info(`S3 restart: live again ${Date.now() - restartedAt} ms after redis-server started (includes the test's own retries)`)
    expect(rec.audit()).toEqual({ silentGaps: [], duplicates: [] })
    expect(rec.events('agent:r').slice(0, 100)).toEqual(before)
    expect(errors.length).toBeGreaterThan(0)
    expect(errors.every((e) => e instanceof BrokerError)).toBe(true)
  })
})
