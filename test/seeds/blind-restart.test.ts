import { spawn, type ChildProcess } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createClient, forgeTransport, type Client, type ClientOptions, type WebSocketConstructor } from 'agentwire'
import { createProgressCodec, createRoomsCodec, type Codec, type DecodeResult } from 'agentwire/protocol'
import { socketIoTransport } from 'agentwire/socket.io'
import { until } from './servers/control'

/**
 * A server restart in the middle of the stream, against the blind emulations of rooms,
 * progress and forge (test/seeds/blind/): the process is killed (SIGKILL) while the client is
 * receiving a scenario and started again on the same port. What the client's handlers got is
 * compared with what each process sent: before the kill, a prefix of the old process's stream
 * (nothing twice, nothing out of order); after it, every channel announced by `resync` before
 * anything new, then exactly what the new process sent. Also forge's per-endpoint heartbeat.
 */

interface Proc {
  port: number
  control: number
  child: ChildProcess
}

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

/** Starts an emulation (`--port P`, 0 for any) and waits for its `LISTENING <port> [<controlPort>]` line. */
async function start(command: string, args: string[], port = 0): Promise<Proc> {
  const child = spawn(command, [...args, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  cleanup.push(() => kill(child, 'SIGTERM'))
  const line = await new Promise<string>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start: ${stderr.slice(-500)}`)), 20_000)
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /LISTENING [^\n]*/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m[0])
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${args[0]} exited with ${code}: ${stderr.slice(-500)}`))
    })
  })
  const [, p, control] = line.split(' ')
  return { port: Number(p), control: Number(control ?? p), child }
}

/** Waits until an asynchronous check holds (one check at a time, every 25 ms); bounded, and says what it waited for. */
async function poll(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
    child.kill(signal)
  })
}

async function http<T = unknown>(method: string, url: string, body?: unknown): Promise<T> {
  const res = await fetch(url, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) })
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

/** What the client did, in order: handler deliveries, states applied, resyncs, connection changes. */
type Entry =
  | { kind: 'event'; channel: string; type: string; body: unknown }
  | { kind: 'error'; body: unknown }
  | { kind: 'state'; body: unknown }
  | { kind: 'resync'; channel: string; reason: string }
  | { kind: 'conn'; status: string }

type Watched = Client & { log: Entry[] }

function client(options: ClientOptions, reconnect = { initialDelayMs: 50, maxDelayMs: 200 }): Watched {
  const c = createClient({ WebSocket: WebSocket as unknown as WebSocketConstructor, environment: null, reconnect, ...options })
  const log: Entry[] = []
  c.on('event', (e, ctx) => log.push({ kind: 'event', channel: ctx.channel, type: e.type, body: (e as { raw?: unknown }).raw ?? (e as { payload?: unknown }).payload }))
  c.on('error', (e) => log.push({ kind: 'error', body: (e as { raw?: unknown }).raw }))
  c.on('resync', (r) => log.push({ kind: 'resync', channel: r.channel, reason: r.reason }))
  c.on('state', () => log.push({ kind: 'conn', status: c.state }))
  cleanup.push(() => c.close())
  return Object.assign(c, { log })
}

/** A codec that also logs every `state` it reads (applied to the store, no handler sees it). */
function statesLogged<C extends Codec>(codec: C, log: () => Entry[]): C {
  const wrapped = Object.create(codec) as C
  wrapped.decode = (frame: unknown): DecodeResult => {
    const r = codec.decode(frame)
    if (r.ok && r.messages.some((m) => m.type === 'state')) log().push({ kind: 'state', body: Array.isArray(frame) ? frame[1] : frame })
    return r
  }
  wrapped.encode = (command) => codec.encode(command)
  return wrapped
}

/**
 * The log cut at the restart: what came before the connection dropped (`before`), the resyncs
 * and what came after the connection was open again (`after`, from the first entry after the
 * reopen). `from` is where the kill was ordered.
 */
function split(log: Entry[], from: number) {
  const down = log.findIndex((e, i) => i >= from && e.kind === 'conn' && e.status !== 'open')
  expect(down, 'the connection dropped').toBeGreaterThanOrEqual(0)
  const up = log.findIndex((e, i) => i > down && e.kind === 'conn' && e.status === 'open')
  expect(up, 'the connection came back').toBeGreaterThan(down)
  const between = log.slice(down, up).filter((e) => e.kind === 'event' || e.kind === 'error' || e.kind === 'state')
  expect(between, 'nothing delivered while down').toEqual([])
  return { before: log.slice(0, down), after: log.slice(up + 1), sinceDown: log.slice(down) }
}

/** The frames behind the deliveries: one frame may make two events (a progress that asks is a step and a question), counted once. */
function delivered(entries: Entry[]): unknown[] {
  const out: unknown[] = []
  let last: unknown
  for (const e of entries) {
    if (e.kind !== 'event' && e.kind !== 'error' && e.kind !== 'state') continue
    if (e.body !== undefined && typeof e.body === 'object' && e.body === last) continue
    out.push((last = e.body))
  }
  return out
}
/** Every channel announced by resync after the reopen, before the first delivery. */
function announcedFirst(after: Entry[], channels: string[]): void {
  const first = after.findIndex((e) => e.kind === 'event' || e.kind === 'error' || e.kind === 'state')
  const head = first < 0 ? after : after.slice(0, first)
  const resynced = head.filter((e): e is Extract<Entry, { kind: 'resync' }> => e.kind === 'resync').map((e) => e.channel)
  for (const channel of channels) expect(resynced, `resync for ${channel} before anything new`).toContain(channel)
}

/** The report line the note quotes, when asked for. */
function report(seed: string, counts: Record<string, unknown>): void {
  if (process.env.AGENTWIRE_BLIND_REPORT) console.log(`BLIND-RESTART ${seed} ${JSON.stringify(counts)}`)
}

const nodeServer = (file: string) => ['node', [`test/seeds/blind/${file}`, '--seed', '1']] as const

describe('rooms (blind emulation): SIGKILL mid-scenario', () => {
  it('before the kill a prefix of the old stream; after it every room resynced and rejoined, the new stream exactly once', async () => {
    const [cmd, args] = nodeServer('rooms-server.mjs')
    const old = await start(cmd, [...args])
    const base = `http://127.0.0.1:${old.control}`
    const plan = await http<{ subscribe: Array<{ event: string; id: string | number }>; messages: Array<{ event: string; payload: unknown; ghost?: boolean }> }>('GET', `${base}/control/scenario?seed=1&interval=15`)
    const c = client({ url: `http://127.0.0.1:${old.port}`, dialect: createRoomsCodec(), transport: socketIoTransport() })
    const channels = ['global', ...plan.subscribe.map((s) => `${s.event.slice('subscribe:'.length)}:${String(s.id)}`)]
    await Promise.all(channels.map((ch) => c.subscribe(ch).ready))
    const [me] = await http<Array<{ id: string }>>('GET', `${base}/control/clients`)
    type Sent = { recipients: string[]; payload: unknown }
    const to = (records: Sent[], id: string) => records.filter((r) => r.recipients.includes(id)).map((r) => r.payload)
    // What came before the scenario (the answer to client:ready), all delivered.
    let pre: unknown[] = []
    await poll(async () => {
      pre = to(await http<Sent[]>('GET', `${base}/control/sent`), me!.id)
      return pre.length > 0 && delivered(c.log).length === pre.length
    }, 'the greeting')
    const stream = [...pre, ...plan.messages.filter((m) => !m.ghost).map((m) => m.payload)]

    // The scenario streams (one message every 15 ms); the process dies a third of the way in.
    const streaming = http('POST', `${base}/control/scenario?seed=1&interval=15`).catch(() => 'killed')
    await until(() => delivered(c.log).length >= pre.length + 20, '20 events of the scenario', 15_000)
    const sentOld = to(await http<Sent[]>('GET', `${base}/control/sent`), me!.id)
    const from = c.log.length
    await kill(old.child, 'SIGKILL')
    expect(await streaming).toBe('killed')
    const fresh = await start(cmd, [...args], old.port)
    const base2 = `http://127.0.0.1:${fresh.control}`
    await until(() => c.state === 'open' && c.log.slice(from).filter((e) => e.kind === 'resync').length >= channels.length, 'resync of every room', 20_000)

    // Before the kill: the old stream's prefix, in order, nothing twice, and it stopped short.
    const { before, after, sinceDown } = split(c.log, from)
    const got = delivered(before)
    expect(got.length).toBeLessThan(stream.length)
    expect(got).toEqual(stream.slice(0, got.length))
    // As far as the old sent log went before the kill, the client had it, or it was in flight.
    const n = Math.min(got.length, sentOld.length)
    expect(got.slice(0, n)).toEqual(sentOld.slice(0, n))
    expect(got.length).toBeGreaterThanOrEqual(sentOld.length - 5)
    announcedFirst(sinceDown, channels)

    // The new process has the rooms again before it streams; what it sends arrives once.
    const rooms = new Set(channels.slice(1))
    let now: { id: string; rooms: string[] } | undefined
    await poll(async () => {
      now = (await http<Array<{ id: string; rooms: string[] }>>('GET', `${base2}/control/clients`))[0]
      return now !== undefined && [...rooms].every((r) => now!.rooms.includes(r))
    }, 'every room joined on the new process', 15_000)
    await http('POST', `${base2}/control/scenario?seed=1`)
    let sentNew: unknown[] = []
    const newDelivered = () => delivered(split(c.log, from).after)
    await poll(async () => {
      sentNew = to(await http<Sent[]>('GET', `${base2}/control/sent`), now!.id)
      return newDelivered().length >= sentNew.length
    }, 'what the new process sent', 15_000)
    expect(sentNew.length).toBeGreaterThanOrEqual(stream.length - pre.length)
    expect(newDelivered()).toEqual(sentNew)
    expect(c.stats.duplicates).toBe(0)
    expect(c.stats.decodeErrors).toBe(0)
    report('rooms', { oldStream: stream.length, oldDeliveredBeforeKill: got.length, oldSentLogAtKill: sentOld.length, resyncs: sinceDown.filter((e) => e.kind === 'resync').length, newSent: sentNew.length, newDelivered: newDelivered().length })
  }, 60_000)
})

describe('progress (blind emulation): SIGKILL mid-scenario', () => {
  it('a prefix of the old stream, resync and rejoin answered by the new process, the view converges to it', async () => {
    const [cmd, args] = nodeServer('progress-server.mjs')
    const old = await start(cmd, [...args])
    const base = `http://127.0.0.1:${old.control}`
    const plan = await http<{ messages: Array<{ type: string; payload: unknown }> }>('GET', `${base}/control/scenario?seed=1&interval=15`)
    let log: Entry[] = []
    const dialect = statesLogged(createProgressCodec({ requestId: 'req-123' }), () => log)
    const c = client({ url: `http://127.0.0.1:${old.port}`, dialect, transport: socketIoTransport({ query: { requestId: 'req-123' } }) })
    log = c.log
    c.subscribe('request:req-123')
    await until(() => c.state === 'open', 'open')
    const [me] = await http<Array<{ id: string }>>('GET', `${base}/control/clients`)

    const streaming = http('POST', `${base}/control/scenario?seed=1&interval=15`).catch(() => 'killed')
    await until(() => delivered(c.log).length >= 12, '12 messages of the scenario', 15_000)
    const sentOld = (await http<Array<{ recipients: string[]; payload: unknown }>>('GET', `${base}/control/sent?source=scenario`)).filter((r) => r.recipients.includes(me!.id))
    const from = c.log.length
    await kill(old.child, 'SIGKILL')
    expect(await streaming).toBe('killed')
    const fresh = await start(cmd, [...args], old.port)
    const base2 = `http://127.0.0.1:${fresh.control}`
    // The rejoin the client sends on reconnect is answered by the new process with what it knows.
    await until(() => c.state === 'open' && c.log.slice(from).some((e) => e.kind === 'state'), 'the state answer from the new process', 20_000)

    const { before, after, sinceDown } = split(c.log, from)
    const got = delivered(before)
    expect(got.length).toBeLessThan(plan.messages.length)
    expect(got).toEqual(plan.messages.slice(0, got.length).map((m) => m.payload))
    const n = Math.min(got.length, sentOld.length)
    expect(got.slice(0, n)).toEqual(sentOld.slice(0, n).map((r) => r.payload))
    announcedFirst(sinceDown, ['request:req-123'])

    const rejoins = await http<Array<{ event: string; payload: unknown }>>('GET', `${base2}/control/received?event=rejoin`)
    expect(rejoins).toHaveLength(1)
    const answers = await http<Array<{ payload: { status: string; steps: unknown[] } }>>('GET', `${base2}/control/sent?event=state`)
    expect(answers).toHaveLength(1)
    expect(delivered(after)[0]).toEqual(answers[0]!.payload)
    // The old process's run is gone with it: the view is what the new one said, not a mix.
    const view = c.getSnapshot().requests['req-123']!
    expect(view.status).toBe(answers[0]!.payload.status)
    expect(view.steps).toHaveLength(answers[0]!.payload.steps.length)

    // Then the new process's stream: everything it sent to this socket (the state answer first), exactly once.
    const [now] = await http<Array<{ id: string }>>('GET', `${base2}/control/clients`)
    await http('POST', `${base2}/control/scenario?seed=2`)
    let sentNew: unknown[] = []
    const newDelivered = () => delivered(split(c.log, from).after)
    await poll(async () => {
      sentNew = (await http<Array<{ recipients: string[]; payload: unknown }>>('GET', `${base2}/control/sent`)).filter((r) => r.recipients.includes(now!.id)).map((r) => r.payload)
      return sentNew.length > 1 && newDelivered().length >= sentNew.length
    }, 'what the new process sent', 15_000)
    expect(newDelivered()).toEqual(sentNew)
    expect(c.stats.decodeErrors).toBe(0)
    report('progress', { oldSent: plan.messages.length, oldDeliveredBeforeKill: got.length, oldSentLogAtKill: sentOld.length, resyncs: sinceDown.filter((e) => e.kind === 'resync').length, rejoinAnswer: answers[0]!.payload.status, newSent: sentNew.length, newDelivered: newDelivered().length })
  }, 60_000)
})

const FORGE_CHANNELS = ['agent:*', 'task:*', 'knowledge', 'metrics', 'global']
const FORGE_PROTOCOL = ['connection_established', 'ping', 'pong', 'stats', 'error']
type ForgeSent = { seq: number; kind: string; endpoint: string; conn?: string; json: string }
const typeOf = (json: string) => (JSON.parse(json) as { type: string }).type

/** A WebSocket that logs what the client writes, per endpoint path. */
function wiretapped(wire: Array<{ path: string; data: string }>): WebSocketConstructor {
  class Tapped extends WebSocket {
    override send(data: unknown, ...rest: unknown[]): void {
      wire.push({ path: new URL(this.url).pathname, data: String(data) })
      ;(super.send as (...a: unknown[]) => void)(data, ...rest)
    }
  }
  return Tapped as unknown as WebSocketConstructor
}

describe('forge (blind emulation): SIGKILL mid-stream', () => {
  it('five endpoints: before the kill a prefix per endpoint, after it resync, the buffered backlog and the new stream each once', async () => {
    const args = ['test/seeds/blind/forge_server.py', '--seed', '1', '--heartbeat', '0', '--metrics-interval', '0', '--dashboard-interval', '0']
    const old = await start('python3', args)
    const base = `http://127.0.0.1:${old.port}`
    const t = forgeTransport({ WebSocket: WebSocket as unknown as WebSocketConstructor })
    // A slow retry: the new process (up in about a second) takes its scenario before the client is
    // back, so each endpoint buffers it, /ws/dashboard's copies too (reported as queuedWhileAway).
    const c = client({ url: `ws://127.0.0.1:${old.port}`, dialect: t.codec, transport: t }, { initialDelayMs: 2000, maxDelayMs: 2000 })
    await Promise.all(FORGE_CHANNELS.map((ch) => c.subscribe(ch).ready))
    // A stream that does not end: metrics every 20 ms, a dashboard update every 30 ms, and the scenario.
    await http('POST', `${base}/control/intervals?metrics=0.02&dashboard=0.03`)
    await http('POST', `${base}/control/scenario?seed=1`)
    await until(() => delivered(c.log).filter((b) => (b as { type?: string }).type === 'metrics_update').length >= 40, 'the metrics stream', 15_000)
    const sentOld = (await http<ForgeSent[]>('GET', `${base}/control/sent`)).filter((r) => r.kind === 'ws')
    const from = c.log.length
    await kill(old.child, 'SIGKILL')

    const fresh = await start('python3', args, old.port)
    const base2 = `http://127.0.0.1:${fresh.port}`
    // Emitted while the client is away: each endpoint keeps it for the next connection.
    const buffered = await http<{ messages: Array<{ message: unknown; delivered: Record<string, number> }> }>('POST', `${base2}/control/scenario?seed=2`)
    const queuedWhileAway = buffered.messages.every((m) => Object.values(m.delivered).every((n) => n === 0))
    await until(() => c.state === 'open' && c.log.slice(from).filter((e) => e.kind === 'resync').length >= FORGE_CHANNELS.length, 'resync of every channel', 20_000)

    // Before the kill, per endpoint: what the old process wrote there, in order, from the start.
    const { before, after, sinceDown } = split(c.log, from)
    const got = delivered(before)
    const byEndpoint = (records: ForgeSent[]) => {
      const out = new Map<string, unknown[]>()
      for (const r of records) {
        const type = typeOf(r.json)
        if (FORGE_PROTOCOL.includes(type)) continue
        // /ws/dashboard's copies of the other endpoints' events are read from their own endpoint.
        if (r.endpoint === '/ws/dashboard' && type !== 'dashboard_update') continue
        out.set(r.endpoint, [...(out.get(r.endpoint) ?? []), JSON.parse(r.json)])
      }
      return out
    }
    const endpointOf = (body: unknown) => {
      const type = (body as { type: string }).type
      return type === 'metrics_update' ? '/ws/metrics' : type === 'dashboard_update' ? '/ws/dashboard' : type.startsWith('task') ? '/ws/tasks' : /^(node|edge|knowledge)/.test(type) ? '/ws/knowledge' : '/ws/agents'
    }
    const oldSent = byEndpoint(sentOld)
    for (const [endpoint, list] of oldSent) {
      const mineThere = got.filter((b) => endpointOf(b) === endpoint)
      const n = Math.min(mineThere.length, list.length)
      expect(mineThere.slice(0, n), endpoint).toEqual(list.slice(0, n))
      // What the sent log had before the kill arrived, save what was still in flight.
      expect(mineThere.length, endpoint).toBeGreaterThanOrEqual(list.length - 10)
    }
    announcedFirst(sinceDown, FORGE_CHANNELS)

    // After: the new process's backlog and what it sent since, each event once.
    const newDelivered = () => delivered(split(c.log, from).after)
    const conns = await http<Array<{ id: string }>>('GET', `${base2}/control/connections`)
    let sentNew: ForgeSent[] = []
    let want = 0
    await poll(async () => {
      sentNew = (await http<ForgeSent[]>('GET', `${base2}/control/sent`)).filter((r) => r.kind === 'ws' && conns.some((x) => x.id === r.conn))
      want = [...byEndpoint(sentNew).values()].reduce((n, l) => n + l.length, 0)
      return want > buffered.messages.length && newDelivered().length >= want
    }, 'what the new process sent', 15_000)
    const newSent = byEndpoint(sentNew)
    const gotNew = newDelivered()
    for (const [endpoint, list] of newSent) expect(gotNew.filter((b) => endpointOf(b) === endpoint), endpoint).toEqual(list)
    expect(gotNew.length).toBe(want)
    expect(c.stats.decodeErrors).toBe(0)
    report('forge', {
      oldSentBeforeKill: [...oldSent.values()].reduce((n, l) => n + l.length, 0),
      oldDeliveredBeforeKill: got.length,
      resyncs: sinceDown.filter((e) => e.kind === 'resync').length,
      queuedWhileAway,
      newSent: want,
      newDelivered: gotNew.length,
    })
  }, 60_000)

  it('a server ping on one endpoint is answered there only, and the heartbeat timeout never closes the client', async () => {
    // The server pings every endpoint every 250 ms and closes one silent for 800 ms.
    const old = await start('python3', ['test/seeds/blind/forge_server.py', '--seed', '1', '--heartbeat', '0.25', '--dead-after', '0.8', '--metrics-interval', '0', '--dashboard-interval', '0'])
    const base = `http://127.0.0.1:${old.port}`
    const wire: Array<{ path: string; data: string }> = []
    const t = forgeTransport({ WebSocket: wiretapped(wire) })
    const c = client({ url: `ws://127.0.0.1:${old.port}`, dialect: t.codec, transport: t })
    await Promise.all(FORGE_CHANNELS.map((ch) => c.subscribe(ch).ready))
    const mark = c.log.length
    // The server files a connection a moment after it accepted it.
    let conns: Array<{ id: string; endpoint: string }> = []
    await poll(async () => (conns = await http<typeof conns>('GET', `${base}/control/connections`)).length === 5, 'five connections on the server')
    expect(conns.map((x) => x.endpoint).sort()).toEqual(['/ws/agents', '/ws/dashboard', '/ws/knowledge', '/ws/metrics', '/ws/tasks'])
    const pongs = (path: string) => wire.filter((w) => w.path === path && /pong/.test(w.data)).length
    const pings = (records: ForgeSent[], conn: string) => records.filter((r) => r.kind === 'ws' && r.conn === conn && typeOf(r.json) === 'ping').length

    // One more ping, on /ws/tasks only.
    const tasks = conns.find((x) => x.endpoint === '/ws/tasks')!
    await http('POST', `${base}/control/emit`, { endpoint: 'tasks', client_id: tasks.id, message: { type: 'ping', timestamp: 1 } })
    let sent: ForgeSent[] = []
    await poll(async () => {
      sent = await http<ForgeSent[]>('GET', `${base}/control/sent`)
      return conns.every((x) => pings(sent, x.id) >= 10)
    }, 'ten server pings on every endpoint (three silence limits)', 15_000)
    // Heartbeat off; then every ping the server sent is answered, once, on its own endpoint.
    await http('POST', `${base}/control/heartbeat?interval=0`)
    await poll(async () => {
      sent = await http<ForgeSent[]>('GET', `${base}/control/sent`)
      return conns.every((x) => pongs(x.endpoint) === pings(sent, x.id))
    }, 'a pong for every ping, on its endpoint', 10_000)
    const sentPings = Object.fromEntries(conns.map((x) => [x.endpoint, pings(sent, x.id)]))
    const gotPongs = Object.fromEntries(conns.map((x) => [x.endpoint, pongs(x.endpoint)]))
    expect(gotPongs).toEqual(sentPings)
    expect(wire.every((w) => w.data === '{"type":"pong"}')).toBe(true)
    // Nobody closed for silence, nothing the server could not read (it answers those with `error`), the same five connections.
    expect(sent.filter((r) => r.kind === 'closed')).toEqual([])
    expect(sent.filter((r) => r.kind === 'ws' && typeOf(r.json) === 'error')).toEqual([])
    expect((await http<Array<{ id: string }>>('GET', `${base}/control/connections`)).map((x) => x.id).sort()).toEqual(conns.map((x) => x.id).sort())
    expect(c.log.slice(mark).filter((e) => e.kind === 'conn')).toEqual([])
    expect(c.state).toBe('open')
    report('forge-heartbeat', { pings: sentPings, pongs: gotPongs, closed: 0 })
  }, 60_000)
})
