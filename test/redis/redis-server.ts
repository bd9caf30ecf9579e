import { afterAll, afterEach, beforeAll, describe } from 'vitest'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'

/**
 * A redis-server of the test's own, on a free port, so faults (kill -9, CLIENT KILL TYPE
 * pubsub, config changes) never touch the shared Redis at 6379.
 */
export interface OwnRedis {
  readonly port: number
  readonly url: string
  /** kill -9: every connection drops and, with no persistence, every key is gone. */
  kill(): Promise<void>
  /** Starts it again on the same port. */
  start(): Promise<void>
  /** Resolves once the running process has exited by itself (e.g. after `SHUTDOWN NOSAVE`). */
  exited(): Promise<void>
  stop(): Promise<void>
}

export const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort()
  let child: ChildProcess | undefined
  let exit: Promise<void> = Promise.resolve()

  async function start(): Promise<void> {
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--enable-debug-command', 'local'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child = proc
    exit = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
    await new Promise<void>((resolve, reject) => {
      let out = ''
      const timer = setTimeout(() => reject(new Error(`redis-server on ${port} did not start: ${out.slice(-500)}`)), 20_000)
      proc.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString()
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer)
          resolve()
        }
      })
      proc.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`redis-server on ${port} exited with ${code}: ${out.slice(-500)}`))
      })
    })
    proc.stdout!.resume()
    proc.stderr!.resume()
  }

  async function kill(): Promise<void> {
    const proc = child
    child = undefined
    if (!proc || proc.exitCode !== null) return
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
    proc.kill('SIGKILL')
    await exited
  }

  await start()
  return { port, url: `redis://127.0.0.1:${port}`, kill, start, stop: kill, exited: () => exit }
}

/**
 * The hooks of a test file that faults a redis-server of its own: started before the file's
 * tests (skipped with a warning where `redis-server` is not on PATH), stopped after them, and
 * whatever a test pushes on `open` closed after it, last first. `redis()` is the server.
 */
export function ownRedisSuite(file: string) {
  if (!hasRedisServer) console.warn(`${file}: skipped: redis-server is not on PATH`)
  let redis: OwnRedis | undefined
  const open: Array<{ close(): Promise<void> }> = []
  beforeAll(async () => {
    if (hasRedisServer) redis = await startOwnRedis()
  })
  afterAll(async () => {
    await redis?.stop()
  })
  afterEach(async () => {
    for (const c of open.splice(0).reverse()) await c.close()
  })
  return { suite: hasRedisServer ? describe : describe.skip, redis: () => redis!, open }
}
