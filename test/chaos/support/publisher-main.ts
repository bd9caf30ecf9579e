/**
 * A publisher in its own process, so a flood's cost does not land on the client being
 * measured (L1, L4). Settings come in AGENTWIRE_CHAOS_PUBLISHER (JSON); it publishes
 * `rate` events per second, round robin over `channels`, for `warmupMs` (default 0) and then
 * `durationMs`, each stamped with its global index in `payload.load`; says `{ type: 'started',
 * at }` over IPC when the measured part begins (after the warm-up), then reports per channel the
 * epoch, the first seq and the stamps in seq order (warm-up included: it is part of the stream),
 * and exits.
 */
import { type StoredEvent } from 'agentwire/server'
import { createPublisher } from 'agentwire/redis'

interface Settings {
  redisUrl: string
  prefix: string
  retentionSize: number
  channels: string[]
  rate: number
  durationMs: number
  warmupMs?: number
}

const s = JSON.parse(process.env.AGENTWIRE_CHAOS_PUBLISHER ?? '{}') as Settings
const publisher = createPublisher({ url: s.redisUrl, prefix: s.prefix, retention: { size: s.retentionSize, maxAgeMs: 600_000 }, onError: (e) => console.error('publisher error', e.message) })
const tickMs = 10
const perTick = Math.max(1, Math.round((s.rate * tickMs) / 1000))
const stored: StoredEvent[] = []
const startedAt = Date.now()
let i = 0
/** How far behind its schedule the publishing loop fell at worst (this process not scheduled in time). */
let maxLagMs = 0

async function run(): Promise<void> {
  const warmupMs = s.warmupMs ?? 0
  /** When the measured part began (Date.now), once it has. */
  let measuredFrom: number | undefined
  let measuredFromIndex = 0
  const begin = () => {
    measuredFrom = Date.now()
    measuredFromIndex = i
    maxLagMs = 0
    // A test measuring over the flood alone (not the warm-up) opens its window here.
    process.send?.({ type: 'started', at: measuredFrom })
  }
  if (warmupMs === 0) begin()
  const t0 = Date.now()
  // Open loop: each tick's events go out on schedule whether or not the previous ones are stored
  // yet (a closed loop, one round trip per tick, fell to 200–300 events/s of 1,000 on the loaded
  // machine as soon as a round trip took longer than the tick). A tick that is late (this process
  // was not scheduled) is made up at once, yielding to I/O between ticks; at most 2 s of ticks are
  // in flight.
  const inFlight: Array<Promise<StoredEvent[]>> = []
  const maxInFlight = Math.round(2000 / tickMs)
  while (Date.now() - t0 < warmupMs + s.durationMs) {
    if (measuredFrom === undefined && Date.now() - t0 >= warmupMs) begin()
    const due = t0 + ((i / perTick) * tickMs)
    const wait = due - Date.now()
    maxLagMs = Math.max(maxLagMs, -wait)
    await new Promise((r) => (wait > 0 ? setTimeout(r, wait) : setImmediate(r)))
    const batch: Array<Promise<StoredEvent>> = []
    for (let k = 0; k < perTick; k++, i++) {
      const channel = s.channels[i % s.channels.length]!
      batch.push(publisher.publish(channel, { type: 'agent.status', payload: { name: channel.slice(channel.indexOf(':') + 1), status: i % 2 === 0 ? 'busy' : 'available', load: i } }))
    }
    inFlight.push(Promise.all(batch))
    while (inFlight.length > maxInFlight) stored.push(...(await inFlight.shift()!))
  }
  for (const batch of inFlight.splice(0)) stored.push(...(await batch))
  const elapsed = Date.now() - (measuredFrom ?? t0)
  const measured = i - measuredFromIndex
  const byChannel: Record<string, { epoch: string; first: number; stamps: number[] }> = {}
  for (const e of stored.sort((a, b) => a.seq - b.seq)) {
    const c = (byChannel[e.channel] ??= { epoch: e.epoch, first: e.seq, stamps: [] })
    c.stamps.push((e.event.payload as { load: number }).load)
  }
  // Wait until the report is written: disconnect() closes the IPC pipe at once and drops a
  // write still queued on it, and a 20,000/s run's report (~100,000 stamps) does not fit in one
  // pipe write — that, not the publisher, is what made the full-rate L1 "exit without reporting".
  await new Promise<void>((resolve, reject) => {
    if (!process.send) return resolve()
    process.send({ type: 'done', published: stored.length, measured, measuredFrom, elapsedMs: elapsed, rate: Math.round((measured * 1000) / elapsed), maxLagMs: Math.round(maxLagMs), byChannel, startedAt }, undefined, {}, (err) => (err ? reject(err) : resolve()))
  })
  await publisher.close()
}

run().then(
  () => process.disconnect?.(),
  (error: Error) => {
    process.send?.({ type: 'failed', message: error.message })
    process.exit(1)
  },
)
