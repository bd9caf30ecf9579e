import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { connect as netConnect, createServer, type AddressInfo } from 'node:net'
import { promisify } from 'node:util'
import { connect, type ConfirmChannel, type ChannelModel } from 'amqplib'

const run = promisify(execFile)

/** The shared RabbitMQ every engineer's tests use: each test declares and deletes its own exchange and queue. */
export const AMQP_URL = process.env.AGENTWIRE_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'

/** A name no other test uses, e.g. `awtest.crash.3fa9c1d2`. */
export function uniqueName(label: string): string {
  return `awtest.${label}.${randomBytes(4).toString('hex')}`
}

/** The progress seed's broker message, exactly as its executor agent publishes it, for step `i`. */
export function stepMessage(requestId: string, i: number, status: 'running' | 'completed' = 'running') {
  return { type: 'executor.step.progress', requestId, agent: 'executor-agent', data: { stepId: `s${i}`, stepOrder: i, status, tool: 'search' } }
}

/** A seed agent's side of RabbitMQ: a confirm channel on the exchange, persistent messages. */
export interface SeedAgent {
  /** Publishes and waits until RabbitMQ has taken them (publisher confirms). */
  publish(routingKey: string, bodies: readonly unknown[], options?: { messageIds?: readonly string[] }): Promise<void>
  /** Publishes raw bytes (for malformed messages). */
  publishRaw(routingKey: string, content: Buffer): Promise<void>
  deleteQueue(queue: string): Promise<void>
  /** Messages ready in the queue (not delivered to a consumer). */
  ready(queue: string): Promise<number>
  close(): Promise<void>
}

export async function seedAgent(exchange: string): Promise<SeedAgent> {
  const model: ChannelModel = await connect(AMQP_URL)
  model.on('error', () => undefined)
  const channel: ConfirmChannel = await model.createConfirmChannel()
  channel.on('error', () => undefined)
  await channel.assertExchange(exchange, 'topic', { durable: true })
  return {
    async publish(routingKey, bodies, options) {
      bodies.forEach((body, i) => {
        const messageId = options?.messageIds?.[i]
        channel.publish(exchange, routingKey, Buffer.from(JSON.stringify(body)), { persistent: true, contentType: 'application/json', ...(messageId ? { messageId } : {}) })
      })
      await channel.waitForConfirms()
    },
    async publishRaw(routingKey, content) {
      channel.publish(exchange, routingKey, content, { persistent: true })
      await channel.waitForConfirms()
    },
    async deleteQueue(queue) {
      await channel.deleteQueue(queue)
    },
    async ready(queue) {
      return (await channel.checkQueue(queue)).messageCount
    },
    async close() {
      await channel.deleteExchange(exchange).catch(() => undefined)
      await model.close().catch(() => undefined)
    },
  }
}

/**
 * Closes, from the server side (`rabbitmqctl close_connection`, as an operator or a broker
 * shutting down would), every connection whose client-provided name is `name`. Only that one:
 * the RabbitMQ is shared. Returns how many it closed.
 */
export async function closeConnectionsNamed(name: string): Promise<number> {
  const { stdout } = await run('rabbitmqctl', ['list_connections', 'pid', 'client_properties', '--no-table-headers', '-q'])
  const pids = stdout
    .split('\n')
    .filter((line) => line.includes(`{"connection_name","${name}"}`))
    .map((line) => line.split('\t')[0]!)
  for (const pid of pids) await run('rabbitmqctl', ['close_connection', pid, 'agentwire test: closed by the server'])
  return pids.length
}

/** Polls `predicate` every 10 ms until it holds; rejects after `timeoutMs` with `describe()`. For state with no event to wait on (stats). */
export async function until(predicate: () => boolean | Promise<boolean>, describe: () => string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** A door the test opens (or shuts for good): publishes through it wait until then (a slow or stuck gateway). */
export function gate(): { passed: Promise<void>; open(): void; fail(): void } {
  let open!: () => void
  let fail!: () => void
  const passed = new Promise<void>((resolve, reject) => {
    open = resolve
    fail = () => reject(new Error('the gateway is gone'))
  })
  passed.catch(() => undefined)
  return { passed, open, fail }
}

/** A RabbitMQ node of a test's own, for faults the shared one must not suffer (a restart). */
export interface OwnRabbitMQ {
  readonly url: string
  /** Stops the broker application (every connection closes, nothing answers) and starts it again: durable queues and persistent messages come back from disk. */
  restart(between?: () => Promise<void>): Promise<void>
  stop(): Promise<void>
}

/**
 * Starts `rabbitmq-server -detached` as its own node (name, ports and directories of its own;
 * when run as root the server drops to the `rabbitmq` user, who must own the directory), and
 * waits until it answers, at most `timeoutMs`.
 */
export async function ownRabbitMQ(timeoutMs = 60_000): Promise<OwnRabbitMQ> {
  const { mkdtemp, writeFile, rm, chown } = await import('node:fs/promises')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const dir = await mkdtemp(join(tmpdir(), 'awtest-rabbitmq-'))
  const [port, distPort] = [await freePort(), await freePort()]
  const node = `awtest-${randomBytes(4).toString('hex')}@localhost`
  await writeFile(join(dir, 'enabled_plugins'), '[].\n')
  await writeFile(join(dir, 'rabbitmq.conf'), `listeners.tcp.local = 127.0.0.1:${port}\nloopback_users.guest = true\n`)
  if (process.getuid?.() === 0) {
    const { stdout } = await run('id', ['-u', 'rabbitmq']).catch(() => ({ stdout: '' }))
    const { stdout: gid } = await run('id', ['-g', 'rabbitmq']).catch(() => ({ stdout: '' }))
    if (stdout.trim() !== '') for (const f of ['', 'enabled_plugins', 'rabbitmq.conf']) await chown(join(dir, f), Number(stdout), Number(gid))
  }
  const env = {
    ...process.env,
    RABBITMQ_NODENAME: node,
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_PID_FILE: join(dir, 'pid'),
    RABBITMQ_FEATURE_FLAGS_FILE: join(dir, 'feature_flags'),
    RABBITMQ_PLUGINS_EXPAND_DIR: join(dir, 'plugins-expand'),
    RABBITMQ_QUORUM_DIR: join(dir, 'quorum'),
    RABBITMQ_STREAM_DIR: join(dir, 'stream'),
  }
  const ctl = (...args: string[]) => run('rabbitmqctl', ['-n', node, '-q', ...args], { env })
  await run('rabbitmq-server', ['-detached'], { env, cwd: dir })
  const answers = () => new Promise<boolean>((resolve) => {
    const socket = netConnect(port, '127.0.0.1')
    socket.once('connect', () => (socket.destroy(), resolve(true)))
    socket.once('error', () => resolve(false))
  })
  await until(answers, () => `rabbitmq-server ${node} did not answer on ${port} (logs in ${dir}/log)`, timeoutMs)
  return {
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    async restart(between) {
      await ctl('stop_app')
      await between?.()
      await ctl('start_app')
    },
    async stop() {
      await ctl('stop').catch(() => undefined)
      await rm(dir, { recursive: true, force: true })
    },
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}
