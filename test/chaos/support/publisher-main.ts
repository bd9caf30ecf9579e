/**
 * A publisher in its own process, so a flood's cost does not land on the client being
 * measured (L1, L4). Settings come in AGENTWIRE_CHAOS_PUBLISHER (JSON); it publishes
 * `rate` events per second, round robin over `channels`, for `durationMs`, each stamped with
 * its global index in `payload.load`, then reports per channel the epoch, the first seq and
 * the stamps in seq order, and exits.
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
}

const s = JSON.parse(process.env.AGENTWIRE_CHAOS_PUBLISHER ?? '{}') as Settings
const publisher = createPublisher({ url: s.redisUrl, prefix: s.prefix, retention: { size: s.retentionSize, maxAgeMs: 600_000 }, onError: (e) => console.error('publisher error', e.message) })
const tickMs = 10
const perTick = Math.max(1, Math.round((s.rate * tickMs) / 1000))
const stored: StoredEvent[] = []
const startedAt = Date.now()
let i = 0

async function run(): Promise<void> {
  const t0 = Date.now()
  while (Date.now() - t0 < s.durationMs) {
    const due = t0 + ((i / perTick) * tickMs)
    const wait = due - Date.now()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    const batch: Array<Promise<StoredEvent>> = []
    for (let k = 0; k < perTick; k++, i++) {
      const channel = s.channels[i % s.channels.length]!
      batch.push(publisher.publish(channel, { type: 'agent.status', payload: { name: channel.slice(channel.indexOf(':') + 1), status: i % 2 === 0 ? 'busy' : 'available', load: i } }))
    }
    stored.push(...(await Promise.all(batch)))
  }
  const elapsed = Date.now() - t0
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
    process.send({ type: 'done', published: stored.length, elapsedMs: elapsed, rate: Math.round((stored.length * 1000) / elapsed), byChannel, startedAt }, undefined, {}, (err) => (err ? reject(err) : resolve()))
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
