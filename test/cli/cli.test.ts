import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer as createHttpServer } from 'node:http'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createGateway, type Gateway } from 'agentwire/server'
import { buildCli, root } from './build'

/**
 * The `agentwire` bin as a user runs it: child processes, real sockets on 127.0.0.1, output
 * read line by line. Every wait is on a line or an exit, with a generous deadline.
 */

let cli: string
const children = new Set<ChildProcess>()
const gateways: Gateway[] = []

beforeAll(async () => {
  cli = await buildCli()
}, 120_000)

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await Promise.all(gateways.map((g) => g.close({ drainMs: 0 })))
})

interface Run {
  child: ChildProcess
  lines: string[]
  stderr: () => string
  stdout: () => string
  /** Resolves with the first stdout line (already seen or coming) that matches. */
  waitForLine(match: (line: string) => boolean, timeoutMs?: number): Promise<string>
  exited: Promise<number | null>
}

/** Node flags that make stdout and stderr report a terminal, so the live view runs without a pty. */
const fakeTty = ['--import', fileURLToPath(new URL('./fake-tty.mjs', import.meta.url))]

function run(args: string[], env: Record<string, string> = {}, nodeFlags: string[] = []): Run {
  const child = spawn(process.execPath, [...nodeFlags, cli, ...args], {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)
  const lines: string[] = []
  let out = ''
  let err = ''
  let partial = ''
  const waiters: Array<{ match: (l: string) => boolean; resolve: (l: string) => void }> = []
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
    const parts = (partial + chunk).split('\n')
    partial = parts.pop()!
    for (const line of parts) {
      lines.push(line)
      for (const w of [...waiters]) if (w.match(line)) waiters.splice(waiters.indexOf(w), 1), w.resolve(line)
    }
  })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return {
    child,
    lines,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForLine(match, timeoutMs = 30_000) {
      const seen = lines.find(match)
      if (seen !== undefined) return Promise.resolve(seen)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching line within ${timeoutMs} ms; stdout:\n${out}\nstderr:\n${err}`)), timeoutMs)
        waiters.push({ match, resolve: (l) => (clearTimeout(timer), resolve(l)) })
      })
    },
  }
}

/** A port nobody listens on (bound, read, released). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

interface NdjsonEvent { channel: string; seq: number; epoch: string; type: string; payload: Record<string, unknown> }

describe('agentwire demo and watch', () => {
  it('serves the simulated fleet, and watch --json streams its events with positions', async () => {
    const demo = run(['demo', '--port', '0', '--no-view', '--seed', '7'])
    const wsLine = await demo.waitForLine((l) => /websocket\s+ws:\/\//.test(l))
    const url = /(ws:\/\/\S+)/.exec(wsLine)![1]!
    expect(demo.lines.join('\n')).toMatch(/dashboard\s+http:\/\/127\.0\.0\.1:\d+\//)

    const watch = run(['watch', '--json', url])
    await watch.waitForLine((l) => l.includes('"agent.status"'))
    await watch.waitForLine((l) => /"task\.(progress|completed|started)"/.test(l))
    watch.child.kill('SIGINT')
    expect(await watch.exited).toBe(0)

    const records = watch.lines.filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(records[0]).toEqual({ state: 'connecting' })
    expect(records).toContainEqual({ state: 'open' })
    const events = records.filter((r): r is NdjsonEvent & Record<string, unknown> => 'type' in r)
    expect(events.length).toBeGreaterThan(1)
    const lastSeq = new Map<string, number>()
    for (const e of events) {
      expect(Object.keys(e).sort()).toEqual(['channel', 'epoch', 'payload', 'seq', 'type'])
      expect(Number.isInteger(e.seq) && e.seq >= 1).toBe(true)
      expect(typeof e.epoch).toBe('string')
      // In order and without duplicates, per channel.
      expect(e.seq).toBeGreaterThan(lastSeq.get(e.channel) ?? 0)
      lastSeq.set(e.channel, e.seq)
    }
    const status = events.find((e) => e.type === 'agent.status')!
    expect(status.channel).toBe(`agent:${status.payload['name'] as string}`)
    expect(['available', 'busy', 'offline']).toContain(status.payload['status'])

    demo.child.kill('SIGTERM')
    expect(await demo.exited).toBe(0)
  })

  it('prints plain lines, one per event, when stdout is not a terminal', async () => {
    const demo = run(['demo', '--port', '0', '--no-view'])
    const url = /(ws:\/\/\S+)/.exec(await demo.waitForLine((l) => /websocket\s+ws:\/\//.test(l)))![1]!
    const watch = run(['watch', url, '--channel', 'task:*'])
    await watch.waitForLine((l) => l === '-- open')
    const line = await watch.waitForLine((l) => / task:task-\w+-\d+#\d+ task\.\w+ task-\w+-\d+/.test(l))
    expect(line).toMatch(/^\d\d:\d\d:\d\d task:/)
    expect(watch.lines.some((l) => l.includes('agent.status'))).toBe(false)
    watch.child.kill('SIGINT')
    demo.child.kill('SIGINT')
    expect(await watch.exited).toBe(0)
    expect(await demo.exited).toBe(0)
  })
})

describe('agentwire watch, when it cannot', () => {
  it('refuses a URL that is not ws:// or wss:// with exit 2 and a hint', async () => {
    const [http, garbage, none, badChannel] = [
      run(['watch', 'http://127.0.0.1:8787/ws']),
      run(['watch', 'not a url']),
      run(['watch']),
      run(['watch', 'ws://127.0.0.1:1/ws', '--channel', '9nope:x']),
    ]
    expect(await http.exited).toBe(2)
    expect(http.stderr()).toContain('expected a ws:// or wss:// URL, got http://… (did you mean ws://127.0.0.1:8787/ws?)')
    expect(await garbage.exited).toBe(2)
    expect(garbage.stderr()).toContain('"not a url" is not a URL')
    expect(await none.exited).toBe(2)
    expect(none.stderr()).toContain('missing <url>')
    expect(await badChannel.exited).toBe(2)
    expect(badChannel.stderr()).toContain('invalid channel "9nope:x"')
  })

  it('exits 3 when the token is refused, and never prints the token', async () => {
    const gateway = createGateway({ port: 0, authenticate: (token) => (token === 'the-right-one' ? 'ops' : null) })
    gateways.push(gateway)
    await gateway.ready
    const canary = `agentwire-canary-${Math.random().toString(36).slice(2)}`
    const watch = run(['watch', gateway.url, '--token', canary, '--json'])
    expect(await watch.exited).toBe(3)
    expect(watch.stderr()).toMatch(/refused the token/)
    expect(watch.stdout()).toContain('"state":"unauthorized"')
    expect(watch.stdout() + watch.stderr()).not.toContain(canary)

    // The same through the environment, in the plain output.
    const env = run(['watch', gateway.url], { AGENTWIRE_TOKEN: canary })
    expect(await env.exited).toBe(3)
    expect(env.stdout() + env.stderr()).not.toContain(canary)
  })

  it('gives up with exit 3 when nothing listens, after its retries, and says how many attempts it made', async () => {
    const port = await closedPort()
    const watch = run(['watch', `ws://127.0.0.1:${port}/ws`, '--retries', '1'])
    expect(await watch.exited).toBe(3)
    expect(watch.stderr()).toContain(`could not connect to ws://127.0.0.1:${port}/ws after 2 attempts (1 retry; connection refused`)

    // The default five retries end within seconds, and the count is the attempts really made.
    let attempts = 0
    const server = createServer((socket) => (attempts++, socket.destroy()))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port: counted } = server.address() as { port: number }
    const started = Date.now()
    const five = run(['watch', `ws://127.0.0.1:${counted}/ws`, '--retries', '5'])
    expect(await five.exited).toBe(3)
    expect(Date.now() - started).toBeLessThan(8000)
    expect(five.stderr()).toContain('after 6 attempts (5 retries')
    expect(attempts).toBe(6)
    await new Promise((resolve) => server.close(resolve))
  })

  it('fails at once, with exit 3, when the server answers the upgrade with 404', async () => {
    const gateway = createGateway({ port: 0 })
    gateways.push(gateway)
    await gateway.ready
    const started = Date.now()
    const watch = run(['watch', `ws://127.0.0.1:${gateway.port}/nope`])
    expect(await watch.exited).toBe(3)
    expect(Date.now() - started).toBeLessThan(5000)
    expect(watch.stderr()).toContain('answered the WebSocket upgrade with HTTP 404')
    expect(watch.stdout().match(/-- connecting/g)).toHaveLength(1)

    // A plain HTTP server that is not a gateway at all: the same.
    const http = createHttpServer((_request, response) => response.writeHead(404).end())
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    const other = run(['watch', `ws://127.0.0.1:${(http.address() as { port: number }).port}/ws`])
    expect(await other.exited).toBe(3)
    expect(other.stderr()).toContain('HTTP 404')
    await new Promise((resolve) => http.close(resolve))
  })

  it('says what is wrong with a bad flag in one line, with exit 2 and no stack trace', async () => {
    const [dialect, unknown, missing, retries] = [
      run(['watch', 'ws://127.0.0.1:1/ws', '--dialect', 'nope']),
      run(['watch', 'ws://127.0.0.1:1/ws', '--colour']),
      run(['watch', 'ws://127.0.0.1:1/ws', '--token']),
      run(['watch', 'ws://127.0.0.1:1/ws', '--retries', 'lots']),
    ]
    expect(await dialect.exited).toBe(2)
    expect(dialect.stderr()).toMatch(/^agentwire watch: --dialect: unknown dialect "nope"; expected one of agentwire, .*routing.*\n$/)
    expect(await unknown.exited).toBe(2)
    expect(unknown.stderr()).toBe('agentwire watch: unknown option --colour (see "agentwire watch --help")\n')
    expect(await missing.exited).toBe(2)
    expect(missing.stderr()).toBe('agentwire watch: --token needs a value (see "agentwire watch --help")\n')
    expect(await retries.exited).toBe(2)
    expect(retries.stderr()).toContain('--retries expects a whole number, got "lots"')
    for (const r of [dialect, unknown, missing, retries]) expect(r.stderr()).not.toMatch(/\n\s+at /)
  })
})

describe('Ctrl-C in the terminal view', () => {
  it('demo drains its clients with 1012 and exits 0', async () => {
    const demo = run(['demo', '--port', '0'], { COLUMNS: '100' }, fakeTty)
    // The view draws the URLs in its header.
    const header = await demo.waitForLine((l) => /websocket ws:\/\//.test(l))
    const url = /(ws:\/\/\S+)/.exec(header)![1]!
    const socket = new WebSocket(url)
    const welcome = new Promise<void>((resolve, reject) => {
      socket.once('message', () => resolve())
      socket.once('error', reject)
    })
    socket.once('open', () => socket.send(JSON.stringify({ type: 'hello', v: 1 })))
    await welcome
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)))
    await demo.waitForLine((l) => l.includes('METRICS'))
    demo.child.kill('SIGINT')
    expect(await closed).toBe(1012)
    expect(await demo.exited).toBe(0)
  })

  it('watch exits 0', async () => {
    const gateway = createGateway({ port: 0 })
    gateways.push(gateway)
    await gateway.ready
    const watch = run(['watch', gateway.url], {}, fakeTty)
    await watch.waitForLine((l) => l.includes('● open'))
    watch.child.kill('SIGINT')
    expect(await watch.exited).toBe(0)
  })
})

describe('agentwire serve', () => {
  it('closes its clients with 1012 and exits 0 on SIGTERM', async () => {
    const serve = run(['serve', '--port', '0'])
    const url = /(ws:\/\/\S+)/.exec(await serve.waitForLine((l) => /websocket\s+ws:\/\//.test(l)))![1]!
    await serve.waitForLine((l) => /stats\s+http:\/\/127\.0\.0\.1:\d+\/stats/.test(l))

    const socket = new WebSocket(url)
    const welcome = new Promise<unknown>((resolve, reject) => {
      socket.once('message', (data) => resolve(JSON.parse(String(data))))
      socket.once('error', reject)
    })
    socket.once('open', () => socket.send(JSON.stringify({ type: 'hello', v: 1 })))
    expect(await welcome).toMatchObject({ type: 'welcome' })
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)))

    serve.child.kill('SIGTERM')
    expect(await closed).toBe(1012)
    expect(await serve.exited).toBe(0)
  })

  it('says clearly when the port it was given is taken', async () => {
    const gateway = createGateway({ port: 0 })
    gateways.push(gateway)
    await gateway.ready
    const serve = run(['serve', '--port', String(gateway.port)])
    expect(await serve.exited).toBe(4)
    expect(serve.stderr()).toContain(`port ${gateway.port} on 127.0.0.1 is in use`)
  })
})

describe('agentwire (no command)', () => {
  it('prints usage and exits 2 for an unknown command, 0 for --help, the version for --version', async () => {
    const [unknown, help, watchHelp, badFlag, version] = [
      run(['frobnicate']),
      run(['--help']),
      run(['watch', '--help']),
      run(['demo', '--colour']),
      run(['--version']),
    ]
    expect(await unknown.exited).toBe(2)
    expect(unknown.stderr()).toContain('unknown command "frobnicate"')
    expect(unknown.stderr()).toContain('agentwire watch <url>')
    expect(await help.exited).toBe(0)
    expect(help.stdout()).toContain('Usage:')
    expect(await watchHelp.exited).toBe(0)
    expect(watchHelp.stdout()).toContain('--json')
    expect(await badFlag.exited).toBe(2)
    expect(badFlag.stderr()).toBe('agentwire demo: unknown option --colour (see "agentwire demo --help")\n')
    expect(await version.exited).toBe(0)
    const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version: string }
    expect(version.stdout().trim()).toBe(pkg.version)
  })
})
