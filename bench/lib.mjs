// Helpers shared by the benchmark cases: child processes that talk over IPC, statistics.
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const here = (rel) => fileURLToPath(new URL(rel, import.meta.url))

/** Starts a case script in a fresh process; resolves with a handle to message it. */
export function spawnCase(script, args = [], { execArgv = [] } = {}) {
  const child = fork(here(script), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv })
  const queue = []
  const waiters = []
  child.on('message', (m) => {
    const i = waiters.findIndex((w) => w.test(m))
    if (i >= 0) waiters.splice(i, 1)[0].resolve(m)
    else queue.push(m)
  })
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  return {
    child,
    send: (m) => child.send(m),
    /** The next message whose `type` is `type`, or a rejection after `timeoutMs`. */
    next(type, timeoutMs = 120_000) {
      const test = (m) => m && m.type === type
      const i = queue.findIndex(test)
      if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0])
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${script}: no "${type}" within ${timeoutMs} ms`)), timeoutMs)
        const failed = exited.then(({ code, signal }) => reject(new Error(`${script} exited (${code ?? signal}) before "${type}"`)))
        void failed
        waiters.push({ test, resolve: (m) => (clearTimeout(timer), resolve(m)) })
      })
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      const t = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(t)
    },
  }
}

/** Reports a result to the parent process. */
export const report = (m) => process.send?.(m)

/** Messages from the parent, by type. */
export function onParent(handlers) {
  process.on('message', (m) => void handlers[m.type]?.(m))
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const n = s.length
  if (n === 0) return NaN
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
}

export function summary(xs) {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), runs: xs }
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
export const wallNow = () => performance.timeOrigin + performance.now()

/** A mix of canonical events of about 150 bytes as native `event` frames, positioned per channel. */
export function eventFrames(n, { epoch = 'bench', channels = 8 } = {}) {
  const seqs = new Map()
  const frames = []
  const agents = ['planner', 'researcher', 'coder', 'reviewer', 'executor', 'critic', 'router', 'writer']
  for (let i = 0; i < n; i++) {
    const k = i % 5
    const a = agents[i % channels % agents.length]
    let channel, event
    if (k === 0) {
      channel = `agent:${a}`
      event = { type: 'agent.status', payload: { name: a, status: i % 3 === 0 ? 'busy' : 'available', load: (i % 100) / 100 } }
    } else if (k === 1) {
      channel = `task:t${i % channels}`
      event = { type: 'task.progress', payload: { taskId: `t${i % channels}`, progress: i % 101, message: 'step done' } }
    } else if (k === 2) {
      channel = `request:r${i % channels}`
      event = { type: 'step.progress', payload: { requestId: `r${i % channels}`, agent: a, step: i % 7, status: 'running', tool: 'search' } }
    } else if (k === 3) {
      channel = `task:t${i % channels}`
      event = { type: 'routing.decision', payload: { taskId: `t${i % channels}`, agent: { name: a, strengths: ['code'], cost: 0.2, latency: 120 }, timestamp: 1700000000 } }
    } else {
      channel = 'metrics'
      event = { type: 'metrics.snapshot', payload: { scope: 'system', values: { cpu: (i % 100) / 100, mem: 0.5 } } }
    }
    const seq = (seqs.get(channel) ?? 0) + 1
    seqs.set(channel, seq)
    frames.push(JSON.stringify({ type: 'event', channel, epoch, seq, event }))
  }
  return { frames, channels: [...seqs.keys()] }
}

/**
 * A redis-server of the benchmark's own on a free port, so the CPU that `INFO` reports is this
 * run's alone (the shared Redis at 6379 serves other test runs too). Resolves to undefined
 * where `redis-server` is not on PATH.
 */
export async function startRedis() {
  const { spawn, spawnSync } = await import('node:child_process')
  const { createServer } = await import('node:net')
  if (spawnSync('redis-server', ['--version']).status !== 0) return undefined
  const port = await new Promise((resolve, reject) => {
    const s = createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const p = s.address().port
      s.close(() => resolve(p))
    })
  })
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise((resolve, reject) => {
    let out = ''
    const t = setTimeout(() => reject(new Error(`redis-server on ${port} did not start`)), 20_000)
    proc.stdout.on('data', (c) => {
      out += c
      if (out.includes('Ready to accept connections')) clearTimeout(t), proc.stdout.resume(), resolve()
    })
    proc.once('exit', (code) => (clearTimeout(t), reject(new Error(`redis-server exited with ${code}`))))
  })
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    /** CPU seconds (user + sys), commands and network bytes Redis has spent so far. */
    info() {
      const text = spawnSync('redis-cli', ['-p', String(port), 'INFO', 'all'], { encoding: 'utf8' }).stdout
      const get = (k) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(text)?.[1] ?? NaN)
      return { cpu: get('used_cpu_user') + get('used_cpu_sys'), commands: get('total_commands_processed'), bytesIn: get('total_net_input_bytes'), bytesOut: get('total_net_output_bytes') }
    },
    async stop() {
      const exited = new Promise((r) => proc.once('exit', r))
      proc.kill('SIGKILL')
      await exited
    },
  }
}

/** The difference of two `info()` readings. */
export const infoDelta = (a, b) => Object.fromEntries(Object.keys(a).map((k) => [k, b[k] - a[k]]))

/** GC until the heap stops shrinking, then RSS and heap in bytes (needs --expose-gc). */
export async function settledMemory() {
  const gc = globalThis.gc ?? (() => {})
  let heap = Infinity
  for (let i = 0; i < 6; i++) {
    gc()
    await new Promise((r) => setTimeout(r, 20))
    const now = process.memoryUsage().heapUsed
    if (now >= heap * 0.999) break
    heap = now
  }
  const m = process.memoryUsage()
  return { rss: m.rss, heap: m.heapUsed, external: m.external }
}

/** This process's CPU time so far, in µs (user + system). */
export const cpuMicros = () => {
  const u = process.cpuUsage()
  return u.user + u.system
}

/**
 * An in-memory transport for a client under measurement: no socket. It answers `hello` with a
 * welcome for the subscriptions the hello resumes, then with `after()`'s frames (snapshots, say);
 * `handlers()` gives what the client handed it, to feed frames with `onFrame`.
 */
export function memoryTransport(after = () => []) {
  let handlers
  const transport = {
    name: 'memory',
    connect(_url, h) {
      handlers = h
      queueMicrotask(() => h.onOpen())
      return {
        send(text) {
          const f = JSON.parse(text)
          if (f.type !== 'hello') return
          const subscriptions = (f.resume ?? []).map((s) => ({ ok: true, channel: s.channel, recovered: false }))
          queueMicrotask(() => {
            h.onFrame(JSON.stringify({ type: 'welcome', v: 1, session: 's1', heartbeatMs: 60_000, subscriptions }))
            for (const frame of after()) h.onFrame(frame)
          })
        },
        close() {},
      }
    },
  }
  return { transport, handlers: () => handlers }
}
