/**
 * Prints routing decisions and agent changes as they happen: `createNodeClient` plus
 * `events()` async iterators.
 *
 *   npx agentwire demo                                # in another terminal
 *   npm run build && npx tsx examples/node-observer.ts [ws://localhost:8787/ws]
 *
 * Ctrl-C closes the client, which ends both loops.
 */
import { createNodeClient } from 'agentwire/node'

const url = process.argv[2] ?? 'ws://localhost:8787/ws'
const client = createNodeClient({ url })
const time = () => new Date().toISOString().slice(11, 19)

client.on('state', ({ previous, current }) => console.log(`${time()} connection ${previous} → ${current}`))
client.on('resync', ({ channel, reason }) => console.log(`${time()} ${channel} resynced from a snapshot (${reason})`))
process.once('SIGINT', () => client.close())

await client.ready(10_000)
console.log(`${time()} watching ${url}`)

async function agents(): Promise<void> {
  // The default overflow policy throws if this loop ever falls 1,000 events behind.
  for await (const { event } of client.events('agent:*')) {
    if (event.type !== 'agent.status') continue
    const { name, status, load } = event.payload
    console.log(`${time()} agent    ${name.padEnd(12)} ${status.padEnd(10)} ${load === undefined ? '' : `load ${Math.round(load * 100)}%`}`)
  }
}

async function decisions(): Promise<void> {
  // Routing decisions travel on the task's channel; a slow terminal may skip some, and says so.
  for await (const { event, dropped } of client.events('task:*', { overflow: 'drop-oldest' })) {
    if (dropped > 0) console.log(`${time()} (${dropped} events skipped)`)
    if (event.type !== 'routing.decision') continue
    const { taskId, agent } = event.payload
    console.log(`${time()} routing  ${taskId.padEnd(12)} → ${agent.name} (cost ${agent.cost}, ~${agent.latency} ms)`)
  }
}

await Promise.all([agents(), decisions()])
console.log(`${time()} closed`)
