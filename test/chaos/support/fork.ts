import { fork, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import type { AuditReport } from './audit'
import type { GatewayStats } from 'agentwire/server'
import { H, T } from './stack'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const builds = new Map<string, Promise<string>>()

/**
 * Bundles a support script (gateway-main, publisher-main, clients-main) from the sources (never a
 * stale dist/), once per test file. The bundle is named after its content and written under a
 * temporary name, then renamed: chaos files run side by side (or by several people in one tree)
 * never fork from a file another run is rewriting, and identical builds share one file.
 */
function buildMain(name = 'gateway-main'): Promise<string> {
  const dir = `${root}test/artifacts/chaos`
  let built = builds.get(name)
  if (!built) builds.set(name, (built = (async () => {
    mkdirSync(dir, { recursive: true })
    const result = await build({
      entryPoints: [`${root}test/chaos/support/${name}.ts`],
      outfile: `${dir}/${name}.mjs`,
      write: false,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      alias: {
        agentwire: `${root}src/index.ts`,
        'agentwire/protocol': `${root}src/protocol/index.ts`,
        'agentwire/server': `${root}src/server/index.ts`,
        'agentwire/redis': `${root}src/redis/index.ts`,
        'agentwire/node': `${root}src/node/index.ts`,
        // The gateway imports the AG-UI entry (its source and endpoint); without its own key
        // esbuild would resolve it under 'agentwire' as src/index.ts/agui.
        'agentwire/agui': `${root}src/agui/index.ts`,
      },
      external: ['ws', 'redis', 'zod', 'zod/*'],
      logLevel: 'error',
    })
    const code = result.outputFiles[0]!.contents
    const out = `${dir}/${name}.${createHash('sha256').update(code).digest('hex').slice(0, 12)}.mjs`
    if (!existsSync(out)) {
      const temporary = `${out}.${process.pid}.tmp`
      writeFileSync(temporary, code)
      renameSync(temporary, out)
    }
    return out
  })()))
  return built
}

/**
 * With AGENTWIRE_CHAOS_PROFILE=<dir>, every process forked here writes a CPU profile there when it
 * exits (`--cpu-prof`), to see where a load case's time goes in the gateway, the clients or the publisher.
 * A killed process writes none, so a gateway is then stopped with SIGTERM even when SIGKILL is
 * asked for: not for the cases that crash it (S1, S2). AGENTWIRE_CHAOS_NODE_FLAGS adds other Node
 * flags to every forked process (e.g. `--trace-gc`).
 */
const profile = [
  ...(process.env.AGENTWIRE_CHAOS_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.AGENTWIRE_CHAOS_PROFILE}`] : []),
  // Any other flags for the forked processes, space-separated (e.g. --trace-gc).
  ...(process.env.AGENTWIRE_CHAOS_NODE_FLAGS ?? '').split(' ').filter(Boolean),
]

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

export interface Probe {
  stats: GatewayStats
  heapUsed: number
  rss: number
  handles: number
}

/** Percentiles of a set of samples, in ms. */
export interface Spread {
  n: number
  p50: number
  p99: number
  max: number
}

/**
 * What the gateway process measured between two `mark()`s (no forced GC, so it can be taken
 * mid-flood). Recording starts at the first mark: the first one only opens the window.
 */
export interface Mark {
  /** Wall time since the previous mark. */
  wallMs: number
  /** `process.cpuUsage()` since the previous mark: every thread of the process (main, GC, libuv). */
  cpuUserMs: number
  cpuSystemMs: number
  /** `performance.eventLoopUtilization()` since the previous mark: the share of time the main thread was busy. */
  eventLoopUtilization: number
  loopDelayMs: Pick<Spread, 'p50' | 'p99' | 'max'>
  /** Writer's `time` stamp → the broker handing the event to the fan-out (Redis, the subscriber connection, the broker). */
  arrivalMs: Spread
  /** `arrivalMs` per bucket of the writer's stamps (1 s, or AGENTWIRE_CHAOS_LATENCY_BUCKET_MS), from the first. */
  arrivalSeries: Array<Spread & { s: number }>
  /** Writer's `time` stamp → the fan-out having passed it to every viewer's socket. */
  fannedOutMs: Spread
  rss: number
  stats: GatewayStats
}

/** CPU share of one core over a mark's window: (user + system) / wall. */
export function cpuShare(mark: Pick<Mark, 'cpuUserMs' | 'cpuSystemMs' | 'wallMs'>): number {
  return (mark.cpuUserMs + mark.cpuSystemMs) / mark.wallMs
}

/** A gateway process on a fixed port: start it, kill it (-9 or TERM), start it again on the same port. */
export interface GatewayProcess {
  readonly port: number
  readonly url: string
  start(): Promise<void>
  /** SIGKILL (crash) or SIGTERM (graceful drain); resolves when the process is gone. */
  kill(signal: 'SIGKILL' | 'SIGTERM'): Promise<void>
  probe(): Promise<Probe>
  /** What the process measured since the previous mark (see {@link Mark}). */
  mark(): Promise<Mark>
  readonly starts: number
  /** The running process's id (undefined while down), for `cpuMs()`. */
  readonly pid: number | undefined
}

/**
 * CPU time (user + system, ms) a process has used since it started, from /proc: tells whether a
 * phase was bound by one process's CPU or waited on others. NaN where /proc is not there.
 */
export function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN
  try {
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th, in ticks of 10 ms (USER_HZ).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return Number.NaN
  }
}

export async function forkGateway(options: { redisUrl: string; prefix: string; retentionSize?: number; drainMs?: number; reconnectWindowMs?: number; heartbeat?: { intervalMs: number; timeoutMs: number }; limits?: Record<string, unknown> }): Promise<GatewayProcess> {
  const main = await buildMain()
  const port = await freePort()
  let child: ChildProcess | undefined
  let starts = 0
  let probes = 0
  const settings = {
    port,
    redisUrl: options.redisUrl,
    prefix: options.prefix,
    retentionSize: options.retentionSize ?? 1000,
    heartbeat: options.heartbeat ?? { intervalMs: H, timeoutMs: T },
    drainMs: options.drainMs ?? 1000,
    reconnectWindowMs: options.reconnectWindowMs,
    limits: options.limits,
  }
  const self: GatewayProcess = {
    port,
    url: `ws://127.0.0.1:${port}/ws`,
    get starts() {
      return starts
    },
    get pid() {
      return child?.pid
    },
    async start() {
      const proc = fork(main, [], { execArgv: ['--expose-gc', ...profile], env: { ...process.env, AGENTWIRE_CHAOS_GATEWAY: JSON.stringify(settings) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      child = proc
      starts++
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('gateway process did not start in 20 s')), 20_000)
        proc.on('message', (m: { type: string; message?: string }) => {
          if (m.type === 'ready') (clearTimeout(timer), resolve())
          if (m.type === 'failed') (clearTimeout(timer), reject(new Error(`gateway process failed: ${m.message}`)))
        })
        proc.once('exit', (code) => (clearTimeout(timer), reject(new Error(`gateway process exited with ${code} before it was ready`))))
      })
    },
    async kill(signal) {
      const proc = child
      child = undefined
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return
      const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
      proc.kill(process.env.AGENTWIRE_CHAOS_PROFILE ? 'SIGTERM' : signal)
      await gone
    },
    probe: () => ask<Probe>('probe'),
    mark: () => ask<Mark>('mark'),
  }
  function ask<R>(type: 'probe' | 'mark'): Promise<R> {
    const proc = child
    if (!proc) return Promise.reject(new Error('no gateway process'))
    const id = ++probes
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${type} timed out`)), 10_000)
      const onMessage = (m: { type: string; id: number } & R) => {
        if (m.type !== type || m.id !== id) return
        clearTimeout(timer)
        proc.off('message', onMessage)
        resolve(m)
      }
      proc.on('message', onMessage)
      proc.send({ type, id })
    })
  }
  return self
}

export interface FloodResult {
  /** Every event stored, warm-up included. */
  published: number
  /** Events published after the warm-up. */
  measured: number
  /** When the measured part began (Date.now of the publisher process). */
  measuredFrom: number
  /** From the start of the measured part until the last event was stored. */
  elapsedMs: number
  /** Events per second actually reached, after the warm-up. */
  rate: number
  /** How far behind its schedule the publishing loop fell at worst, in ms. */
  maxLagMs?: number
  byChannel: Record<string, { epoch: string; first: number; stamps: number[] }>
}

/**
 * Runs publisher-main in its own process: `rate` events/s round robin over `channels` for
 * `warmupMs` (default 0), then `durationMs`. `onStart` is called when the measured part begins
 * (after the process's start-up and the warm-up), so a measurement can cover it alone; the
 * result's `byChannel` holds every event, warm-up included.
 */
export async function floodFromProcess(options: { redisUrl: string; prefix: string; retentionSize: number; channels: string[]; rate: number; durationMs: number; warmupMs?: number; onStart?: () => void }): Promise<FloodResult> {
  const main = await buildMain('publisher-main')
  const { onStart, ...settings } = options
  const proc = fork(main, [], { execArgv: profile, env: { ...process.env, AGENTWIRE_CHAOS_PUBLISHER: JSON.stringify(settings) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  return new Promise<FloodResult>((resolve, reject) => {
    const timer = setTimeout(() => (proc.kill('SIGKILL'), reject(new Error('publisher process did not finish'))), (options.warmupMs ?? 0) + options.durationMs + 60_000)
    proc.on('message', (m: { type: string; message?: string } & FloodResult) => {
      if (m.type === 'started') onStart?.()
      if (m.type === 'done') (clearTimeout(timer), resolve(m))
      if (m.type === 'failed') (clearTimeout(timer), reject(new Error(`publisher failed: ${m.message}`)))
    })
    proc.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`publisher exited (${code ?? signal}) without reporting`))
    })
  })
}

export interface ClientsReport {
  /** One audit report per client, in the order of `clients`. */
  reports: AuditReport[]
  /** Publish stamp → handler, one sample per delivered event (stamped at or after `since`, when given), in ms. */
  latenciesMs: number[]
  /** The samples stamped before `since` (a warm-up), summed up. */
  warmup?: { n: number; p50: number; p99: number; max: number }
  /** The clients process's own load from `ready` to the `published` hand-over (the flood). */
  process?: { wallMs: number; cpuShare: number; eventLoopUtilization: number; loopDelayP50Ms: number; loopDelayP99Ms: number; loopDelayMaxMs: number }
  /** Latency per second of the writer's stamps, from the first sample. */
  latencyBySecond?: Array<{ s: number; n: number; p50: number; p99: number; max: number }>
}

/** A fleet of clients in its own process (clients-main): subscribed, then audited against what a flood stored. */
export interface ClientsProcess {
  /** Resolves once every client of the process is subscribed to its channels. */
  readonly ready: Promise<void>
  /** The measured part of a flood begins: the process's load figures are taken from now on. */
  measure(): void
  /**
   * Hands over what the publisher stored; resolves with the audits once every client caught up.
   * With `since` (Date.now), latency samples of events stamped earlier (a warm-up) are left out.
   */
  audit(byChannel: FloodResult['byChannel'], since?: number): Promise<ClientsReport>
  kill(): void
  /**
   * How many clients are open again after an `open` at or after `since` (Date.now); with
   * `detail`, each client's state changes since then, in the order of `clients` (S2).
   */
  states(since: number, detail?: boolean): Promise<{ reopened: number; changes?: Array<Array<{ t: number; from: string; to: string; code?: number }>> }>
  readonly pid: number | undefined
}

export async function forkClients(options: { url: string; clients: string[][]; heartbeat?: { intervalMs: number; timeoutMs: number }; catchUpTimeoutMs?: number; startTimeoutMs?: number; reconnect?: { initialDelayMs: number; maxDelayMs: number; stableAfterMs: number } }): Promise<ClientsProcess> {
  const main = await buildMain('clients-main')
  const settings = { url: options.url, clients: options.clients, heartbeat: options.heartbeat ?? { intervalMs: 2000, timeoutMs: 2000 }, catchUpTimeoutMs: options.catchUpTimeoutMs ?? 120_000, ...(options.reconnect ? { reconnect: options.reconnect } : {}) }
  const proc = fork(main, [], { execArgv: profile, env: { ...process.env, AGENTWIRE_CHAOS_CLIENTS: JSON.stringify(settings) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let settle: { resolve(r: ClientsReport): void; reject(e: Error): void } | undefined
  let failure: Error | undefined
  const fail = (e: Error) => {
    failure ??= e
    settle?.reject(e)
  }
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('clients process did not subscribe in time')), options.startTimeoutMs ?? 60_000)
    proc.on('message', (m: { type: string; message?: string } & ClientsReport) => {
      if (m.type === 'ready') (clearTimeout(timer), resolve())
      if (m.type === 'report') settle?.resolve({ reports: m.reports, latenciesMs: m.latenciesMs, ...(m.warmup ? { warmup: m.warmup } : {}), ...(m.process ? { process: m.process } : {}), ...(m.latencyBySecond ? { latencyBySecond: m.latencyBySecond } : {}) })
      if (m.type === 'failed') (clearTimeout(timer), reject(new Error(`clients process failed: ${m.message}`)), fail(new Error(`clients process failed: ${m.message}`)))
    })
    proc.once('exit', (code, signal) => {
      clearTimeout(timer)
      const e = new Error(`clients process exited (${code ?? signal}) without reporting`)
      reject(e)
      fail(e)
    })
  })
  ready.catch(() => undefined)
  let asked = 0
  return {
    ready,
    measure() {
      if (proc.connected) proc.send({ type: 'measure' })
    },
    audit(byChannel, since) {
      return new Promise<ClientsReport>((resolve, reject) => {
        if (failure) return reject(failure)
        settle = { resolve, reject }
        proc.send({ type: 'published', byChannel, ...(since === undefined ? {} : { since }) })
      })
    },
    kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
    },
    pid: proc.pid,
    states(since, detail = false) {
      const id = ++asked
      return new Promise((resolve, reject) => {
        if (failure) return reject(failure)
        const timer = setTimeout(() => (proc.off('message', onMessage), reject(new Error('clients process did not answer states in 30 s'))), 30_000)
        const onMessage = (m: { type: string; id?: number; reopened: number; changes?: Array<Array<{ t: number; from: string; to: string; code?: number }>> }) => {
          if (m.type !== 'states' || m.id !== id) return
          clearTimeout(timer)
          proc.off('message', onMessage)
          resolve({ reopened: m.reopened, ...(m.changes ? { changes: m.changes } : {}) })
        }
        proc.on('message', onMessage)
        proc.send({ type: 'states', id, since, detail })
      })
    },
  }
}
