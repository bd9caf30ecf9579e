/**
 * An agent process publishing its status and task progress.
 *
 * Agents publish into the broker the gateways read; clients only send commands. So the path
 * for an agent in another process is Redis: run the demo on Redis and publish with
 * `createPublisher`, which stores each event with its position exactly as a gateway would.
 *
 *   npx agentwire demo --redis redis://127.0.0.1:6379   # gateway, simulated fleet and dashboard
 *   npm run build && npx tsx examples/agent-publisher.ts [redis://127.0.0.1:6379]
 *
 * The agent `scribe` appears next to the simulated fleet and runs one task after another,
 * until Ctrl-C. (With the demo's default in-memory broker there is nothing another process
 * could publish into: in-process code calls `gateway.publish(channel, event)` instead.)
 */
import { createPublisher } from 'agentwire/redis'

const url = process.argv[2] ?? 'redis://127.0.0.1:6379'
const publisher = createPublisher({ url })
const name = 'scribe'
let stopping = false
process.once('SIGINT', () => (stopping = true))

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const status = (value: 'available' | 'busy' | 'offline', load: number) =>
  publisher.publish(`agent:${name}`, { type: 'agent.status', payload: { name, status: value, load, timestamp: Date.now() } })

await status('available', 0)
console.log(`${name} is available on ${url}`)

for (let n = 1; !stopping; n++) {
  const taskId = `${name}-${n}`
  const channel = `task:${taskId}`
  await status('busy', 1)
  await publisher.publish(channel, { type: 'task.started', payload: { taskId, name: `Write summary #${n}`, agent: name, timestamp: Date.now() } })
  for (let progress = 10; progress <= 100 && !stopping; progress += 10) {
    await wait(400)
    await publisher.publish(channel, { type: 'task.progress', payload: { taskId, progress, agent: name, message: `drafting (${progress}%)` } })
  }
  await publisher.publish(channel, { type: 'task.completed', payload: { taskId, result: { words: 250 }, timestamp: Date.now() } })
  console.log(`${taskId} completed`)
  await status('available', 0)
  await wait(1_000)
}

await status('offline', 0)
await publisher.close()
