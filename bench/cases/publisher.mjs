// An agent process publishing through `createPublisher` (agentwire/redis) on channel `global`.
// argv: redisUrl, prefix, [coalesceMs]. Reports its own CPU per run, so the publish path's cost is its alone.
// Run with --expose-gc: each measured window starts after a full GC, so the garbage of start-up
// (and V8's memory reducer, which compacts the heap some 8 s after it grew) is not charged to
// the events of whichever window it would fall in.
import { cpuMicros, onParent, report, wallNow } from '../lib.mjs'
/** A full GC, then a moment for V8's background threads to finish sweeping, before a measured window. */
const settle = async () => {
  if (!globalThis.gc) return
  globalThis.gc()
  await new Promise((r) => setTimeout(r, 200))
}

const [url, prefix, coalesceMs = '0'] = process.argv.slice(2)
const { createPublisher } = await import('agentwire/redis')
const publisher = createPublisher({ url, prefix, coalesceMs: Number(coalesceMs) })
const event = (i, stamp) => ({ type: 'metrics.snapshot', payload: { scope: 'custom', name: 'bench', values: { i, t: stamp } } })
// Warm: the connection, the script cache and the schemas, outside any measured window.
for (let i = 0; i < 20; i++) await publisher.publish('global', event(-1, wallNow()))
report({ type: 'ready' })

onParent({
  // As fast as it goes, at most 64 in flight.
  burst: async ({ m }) => {
    await settle()
    const cpu0 = cpuMicros()
    const t0 = performance.now()
    const inflight = new Set()
    for (let i = 0; i < m; i++) {
      const p = publisher.publish('global', event(i, wallNow())).finally(() => inflight.delete(p))
      inflight.add(p)
      if (inflight.size >= 64) await Promise.race(inflight)
    }
    await Promise.all(inflight)
    report({ type: 'published', count: m, cpuMicros: cpuMicros() - cpu0, ms: performance.now() - t0 })
  },
  // Nothing for `durationMs`: what the process spends idle, to tell apart from the per-event cost.
  idle: async ({ durationMs }) => {
    await settle()
    const cpu0 = cpuMicros()
    await new Promise((r) => setTimeout(r, durationMs))
    report({ type: 'idled', cpuMicros: cpuMicros() - cpu0 })
  },
  // `rate` events a second for `durationMs`, each at its due time (timers fire at ≥ 1 ms, so
  // at 1,000/s an event now and then shares a tick with the next).
  paced: async ({ rate, durationMs }) => {
    await settle()
    const cpu0 = cpuMicros()
    const start = performance.now()
    const total = Math.round((rate * durationMs) / 1000)
    let i = 0
    const pending = []
    await new Promise((done) => {
      const step = () => {
        const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1)
        while (i < due) pending.push(publisher.publish('global', event(i++, wallNow())))
        if (i < total) setTimeout(step, Math.max(0, (i * 1000) / rate - (performance.now() - start)))
        else done()
      }
      step()
    })
    await Promise.all(pending)
    report({ type: 'published', count: total, cpuMicros: cpuMicros() - cpu0, ms: performance.now() - start })
  },
})
process.on('SIGTERM', () => void publisher.close().finally(() => process.exit(0)))
