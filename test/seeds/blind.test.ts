import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createClient, type Client, type ClientOptions, type WebSocketConstructor } from 'agentwire'
import { forgeTransport } from 'agentwire'
import { createProgressCodec, createRoomsCodec, createWebguiCodec, dialects, type Codec, type DecodeResult } from 'agentwire/protocol'
import { socketIoTransport } from 'agentwire/socket.io'
import { until } from './servers/control'

/**
 * End to end against the blind emulations (test/seeds/blind/, written from the seed documents
 * alone, with a control API and a log of everything they sent): the real client with each
 * seed's codec, every message the emulation sent accounted for (a canonical event, an untyped
 * event, a state, an error, or a documented control frame), nothing refused for its shape.
 */

interface Backend {
  port: number
  control: number
  stop(): Promise<void>
}

const running = new Set<ChildProcess>()
const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

/** Starts an emulation and waits for its `LISTENING <port> [<controlPort>]` line. */
async function start(command: string, args: string[]): Promise<Backend> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(child)
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
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
    child.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code}: ${stderr.slice(-500)}`)))
  })
  const [, port, control] = line.split(' ')
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
    }).then(() => void running.delete(child))
  cleanup.push(stop)
  return { port: Number(port), control: Number(control ?? port), stop }
}

async function http<T = unknown>(method: string, url: string, body?: unknown): Promise<T> {
  const res = await fetch(url, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) })
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

/** What the codec made of every frame, by kind: the accounting the tests compare with what was sent. */
interface Ledger {
  events: number
  untyped: string[]
  states: number
  errors: number
  control: number
  refused: number
  acks: number
  frames: unknown[]
}

function counted<C extends Codec>(codec: C): { codec: C; ledger: Ledger } {
  const ledger: Ledger = { events: 0, untyped: [], states: 0, errors: 0, control: 0, refused: 0, acks: 0, frames: [] }
  const wrapped = Object.create(codec) as C
  wrapped.decode = (frame: unknown): DecodeResult => {
    const r = codec.decode(frame)
    if (frame !== null && typeof frame === 'object' && !Array.isArray(frame)) {
      ledger.acks++
      return r
    }
    ledger.frames.push(frame)
    if (!r.ok) ledger.refused++
    else if ('unknown' in r) ledger.untyped.push(r.unknown)
    else if (r.messages.length === 0) ledger.control++
    else {
      // One count per frame: a progress that asks a question is a step and a question at once.
      const m = r.messages[0]!
      if (m.type === 'event') ledger.events++
      else if (m.type === 'state') ledger.states++
      else if (m.type === 'error') ledger.errors++
      else ledger.control++
    }
    return r
  }
  wrapped.encode = (command) => codec.encode(command)
  return { codec: wrapped, ledger }
}

function client(options: ClientOptions): Client & { seen: Array<{ type: string; channel: string }>; errors: Error[]; resyncs: string[] } {
  const c = createClient({ WebSocket: WebSocket as unknown as WebSocketConstructor, environment: null, reconnect: { initialDelayMs: 50, maxDelayMs: 200 }, ...options })
  const seen: Array<{ type: string; channel: string }> = []
  const errors: Error[] = []
  const resyncs: string[] = []
  c.on('event', (e, ctx) => seen.push({ type: e.type, channel: ctx.channel }))
  c.on('error', (e) => errors.push(e))
  c.on('resync', (r) => resyncs.push(r.channel))
  cleanup.push(() => c.close())
  return Object.assign(c, { seen, errors, resyncs })
}

/** One line per seed with what was sent and how each frame was read, for the note. */
function report(seed: string, counts: Record<string, unknown>): void {
  const { frames: _frames, ...rest } = counts as Record<string, unknown> & { frames?: unknown }
  if (process.env.AGENTWIRE_BLIND_REPORT) console.log(`BLIND ${seed} ${JSON.stringify({ ...rest, untyped: Array.isArray(rest.untyped) ? rest.untyped.length : rest.untyped })}`)
}

const node = (file: string) => ['node', [`test/seeds/blind/${file}`, '--port', '0', '--seed', '1']] as const
const python = (file: string, ...extra: string[]) => ['python3', [`test/seeds/blind/${file}`, '--port', '0', '--seed', '1', ...extra]] as const

describe('routing (blind emulation)', () => {
  it('every broadcast is delivered as the seed names it; a restart is announced, never silent', async () => {
    const prefix = `aw-${randomUUID().slice(0, 8)}:`
    const [cmd, args] = node('routing-server.mjs')
    let backend = await start(cmd, [...args, '--channel-prefix', prefix])
    const { codec, ledger } = counted(dialects.routing)
    const c = client({ url: `ws://127.0.0.1:${backend.port}/`, dialect: codec })
    c.subscribe('task:*')
    c.subscribe('agent:*')
    await until(() => c.state === 'open', 'open')
    const base = `http://127.0.0.1:${backend.control}`
    const clients = await http<Array<{ id: number }>>('GET', `${base}/control/clients`)
    expect(clients).toHaveLength(1)
    await http('POST', `${base}/control/scenario?seed=1`)
    const sent = (await http<Array<{ recipients: number[]; payload: { type: string } }>>('GET', `${base}/control/sent?via=ws`)).filter((r) => r.recipients.includes(clients[0]!.id))
    await until(() => ledger.frames.length >= sent.length, `${sent.length} frames`)
    expect(ledger.refused).toBe(0)
    expect(ledger.events + ledger.untyped.length).toBe(sent.length)
    expect(c.seen).toHaveLength(sent.length)
    expect(c.stats.decodeErrors).toBe(0)
    report('routing', { sent: sent.length, ...ledger })
    for (const r of sent) {
      if (r.payload.type === 'agent_status') expect(c.getSnapshot().agents[(r.payload as unknown as { payload: { name: string } }).payload.name]).toBeDefined()
    }
    // A restart on the same port: the client comes back and says it may have missed events.
    await backend.stop()
    const port = backend.port
    backend = await start(cmd, [...args.map((a, i) => (args[i - 1] === '--port' ? String(port) : a)), '--channel-prefix', prefix])
    await until(() => c.resyncs.length >= 2 && c.state === 'open', 'resync after the restart', 15_000)
    expect(c.resyncs.sort()).toEqual(['agent:*', 'task:*'])
    const before = c.seen.length
    const after = `http://127.0.0.1:${backend.control}`
    const clients2 = await http<Array<{ id: number }>>('GET', `${after}/control/clients`)
    await http('POST', `${after}/control/scenario?seed=2`)
    const sent2 = (await http<Array<{ recipients: number[] }>>('GET', `${after}/control/sent?via=ws`)).filter((r) => r.recipients.includes(clients2[0]!.id))
    await until(() => c.seen.length - before >= sent2.length, `${sent2.length} events after the restart`)
    expect(c.seen.length - before).toBe(sent2.length)
    expect(c.stats.duplicates).toBe(0)
  }, 60_000)
})

describe('rooms (blind emulation)', () => {
  it('joins the scenario rooms, ready after the acknowledgements, and every event sent to it is accounted for', async () => {
    const [cmd, args] = node('rooms-server.mjs')
    const backend = await start(cmd, [...args])
    const base = `http://127.0.0.1:${backend.control}`
    const plan = await http<{ subscribe: Array<{ event: string; id: string | number }> }>('GET', `${base}/control/scenario?seed=1`)
    const { codec, ledger } = counted(createRoomsCodec())
    const c = client({ url: `http://127.0.0.1:${backend.port}`, dialect: codec, transport: socketIoTransport() })
    const channels = ['global', ...plan.subscribe.map((s) => `${s.event.slice('subscribe:'.length)}:${String(s.id)}`)]
    const subs = channels.map((ch) => c.subscribe(ch))
    await Promise.all(subs.map((s) => s.ready))
    const received = await http<Array<{ event: string }>>('GET', `${base}/control/received`)
    // `ready` came after the server had the joins and client:ready (the seed's handshake).
    expect(received.map((r) => r.event)).toContain('client:ready')
    expect(received.filter((r) => r.event.startsWith('subscribe:'))).toHaveLength(plan.subscribe.length)
    const [me] = await http<Array<{ id: string }>>('GET', `${base}/control/clients`)
    await http('POST', `${base}/control/scenario?seed=1`)
    const sent = (await http<Array<{ recipients: string[]; event: string; ghost?: boolean }>>('GET', `${base}/control/sent`)).filter((r) => r.recipients.includes(me!.id))
    await until(() => ledger.frames.length >= sent.length, `${sent.length} frames`)
    expect(sent.some((r) => r.ghost)).toBe(false)
    expect(ledger.refused).toBe(0)
    expect(ledger.events + ledger.untyped.length + ledger.errors).toBe(sent.length)
    expect(c.stats.decodeErrors).toBe(0)
    report('rooms', { sent: sent.length, ...ledger })
    // Acks travel as the seed names them, and are answered.
    c.ack(channels[1]!, 0, { messageId: 'm-1' })
    c.ack(channels[1]!, 0, { messageId: 'm-1', kind: 'read' })
    await until(() => ledger.acks >= plan.subscribe.length + 3, 'acknowledgements')
    const acks = (await http<Array<{ event: string }>>('GET', `${base}/control/received`)).filter((r) => r.event.startsWith('message:'))
    expect(acks.map((r) => r.event)).toEqual(['message:received', 'message:read'])
    // After a drop the new socket joins every room again before ready.
    await http('POST', `${base}/control/drop`)
    await until(() => c.resyncs.length >= channels.length && c.state === 'open', 'resync after the drop', 15_000)
    const [again] = await http<Array<{ id: string; rooms: string[] }>>('GET', `${base}/control/clients`)
    expect(again!.rooms.filter((r) => r !== again!.id).length).toBeGreaterThanOrEqual(plan.subscribe.length - 2)
  }, 60_000)
})

describe('progress (blind emulation)', () => {
  it('the scenario: every message accounted for, state answers restored', async () => {
    const [cmd, args] = node('progress-server.mjs')
    const backend = await start(cmd, [...args])
    const base = `http://127.0.0.1:${backend.control}`
    const { codec, ledger } = counted(createProgressCodec({ requestId: 'req-123' }))
    const c = client({ url: `http://127.0.0.1:${backend.port}`, dialect: codec, transport: socketIoTransport({ query: { requestId: 'req-123' } }) })
    c.subscribe('request:req-123')
    await until(() => c.state === 'open', 'open')
    const [me] = await http<Array<{ id: string }>>('GET', `${base}/control/clients`)
    await http('POST', `${base}/control/scenario?seed=1`)
    const sent = (await http<Array<{ recipients: string[]; type: string }>>('GET', `${base}/control/sent`)).filter((r) => r.recipients.includes(me!.id))
    await until(() => ledger.frames.length >= sent.length, `${sent.length} frames`)
    expect(ledger.refused).toBe(0)
    expect(ledger.events + ledger.untyped.length + ledger.states + ledger.errors + ledger.control).toBe(sent.length)
    expect(ledger.states).toBe(sent.filter((r) => r.type === 'state').length)
    expect(c.stats.decodeErrors).toBe(0)
    report('progress', { sent: sent.length, ...ledger })
  }, 60_000)

  it('start, a question answered by feedback, cancel, and rejoin after a forced drop restores every step', async () => {
    const [cmd, args] = node('progress-server.mjs')
    const backend = await start(cmd, [...args])
    const base = `http://127.0.0.1:${backend.control}`
    const c = client({ url: `http://127.0.0.1:${backend.port}`, dialect: createProgressCodec(), transport: socketIoTransport() })
    await until(() => c.state === 'open', 'open')
    // start() without a request id: the client makes one, and no step event is lost.
    const run = c.start({ query: 'plan a trip', context: { steps: 3, feedbackAt: 2, stepDelayMs: 10 } })
    await until(() => (c.getSnapshot().requests[run.id]?.questions.length ?? 0) > 0, 'the question', 15_000)
    const question = c.getSnapshot().requests[run.id]!.questions[0]!
    expect(c.getSnapshot().requests[run.id]!.status).toBe('waiting')
    await run.feedback(question.questionId, 'yes')
    await until(() => c.getSnapshot().requests[run.id]?.status === 'completed', 'the run to complete', 15_000)
    const done = c.getSnapshot().requests[run.id]!
    expect(done.status).toBe('completed')
    expect(done.steps.filter((s) => s.agent === 'executor-agent' && s.status === 'completed')).toHaveLength(3)

    const cancelled = c.start({ query: 'long', context: { steps: 20, stepDelayMs: 200, feedbackAt: 0, askFeedback: false } })
    await until(() => (c.getSnapshot().requests[cancelled.id]?.steps.length ?? 0) > 1, 'a step', 15_000)
    await cancelled.cancel()
    await until(() => c.getSnapshot().requests[cancelled.id]?.status !== 'running', 'the run to end', 15_000)
    expect(c.getSnapshot().requests[cancelled.id]!.status).toBe('cancelled')

    const followed = c.start({ query: 'again', context: { steps: 6, stepDelayMs: 100, feedbackAt: 0, askFeedback: false } })
    await until(() => (c.getSnapshot().requests[followed.id]?.steps.length ?? 0) >= 2, 'two steps', 15_000)
    await http('POST', `${base}/control/drop`)
    await until(() => c.getSnapshot().requests[followed.id]?.status === 'completed', 'the followed run to complete', 20_000)
    const server = (await http<Array<{ requestId: string; status: string; steps?: unknown[] }>>('GET', `${base}/control/requests`)).find((r) => r.requestId === followed.id)
    const view = c.getSnapshot().requests[followed.id]!
    expect(view.status).toBe('completed')
    expect(view.steps.filter((s) => s.agent === 'executor-agent')).toHaveLength(6)
    // Every step the run made: the thought-agent's plan and the executor's six, those done while the link was down included.
    expect(view.steps).toHaveLength(7)
    expect(server?.status).toBe('completed')
  }, 90_000)
})

describe('webgui (blind emulation)', () => {
  it('a partial subscribe fails the denied channel only; every relayed message reaches handlers and store', async () => {
    const prefix = `aw-${randomUUID().slice(0, 8)}:`
    const [cmd, args] = python('webgui_server.py', '--channel-prefix', prefix, '--heartbeat', '0')
    const backend = await start(cmd, [...args])
    const base = `http://127.0.0.1:${backend.port}`
    const info = await http<{ world: { session_a: string; session_b: number; agents: string[] } }>('GET', `${base}/control/info`)
    const { codec, ledger } = counted(createWebguiCodec())
    const c = client({ url: `ws://127.0.0.1:${backend.port}/ws?user_id=bob`, dialect: codec })
    await until(() => c.state === 'open' && ledger.control > 0, 'open and greeted')
    const a = c.subscribe(`session:${info.world.session_a}`)
    const b = c.subscribe(`session:${info.world.session_b}`) // bob may not: owner alice only
    const g = c.subscribe('global')
    const u = c.subscribe('user:bob')
    await Promise.all([a.ready, g.ready, u.ready])
    await expect(b.ready).rejects.toMatchObject({ code: 'forbidden' })
    const [mine] = await http<Array<{ id: string }>>('GET', `${base}/control/connections`)
    await http('POST', `${base}/control/scenario?seed=1`)
    let sent: Array<{ kind: string; conn: string; json: string }> = []
    await until(() => ledger.frames.length > 5, 'frames')
    for (let i = 0; i < 50; i++) {
      sent = (await http<typeof sent>('GET', `${base}/control/sent`)).filter((r) => r.kind === 'ws' && r.conn === mine!.id)
      if (ledger.frames.length >= sent.length) break
      await new Promise((r) => setTimeout(r, 50))
    }
    expect(ledger.frames.length).toBe(sent.length)
    expect(ledger.refused).toBe(0)
    const relayed = sent.filter((r) => !/"type": ?"(connected|subscribed|unsubscribed|heartbeat|pong|error)"/.test(r.json))
    expect(ledger.events + ledger.untyped.length).toBe(relayed.length)
    expect(c.stats.decodeErrors).toBe(0)
    report('webgui', { sent: sent.length, relayed: relayed.length, ...ledger })
    const session = c.getSnapshot().sessions[info.world.session_a]
    expect(session).toBeDefined()
    // A restart mid-stream: announced per channel, subscriptions made again, and what the new
    // process sends arrives once.
    await backend.stop()
    // Everything the codec reads from here on came from the new process.
    const atRestart = ledger.frames.length
    const again = await start(cmd, args.map((a, i) => (args[i - 1] === '--port' ? String(backend.port) : a)))
    await until(() => c.state === 'open' && c.resyncs.includes(`session:${info.world.session_a}`), 'resync after the restart', 20_000)
    let live: { id: string } | undefined
    for (let i = 0; i < 100 && live === undefined; i++) {
      const conns = await http<Array<{ id: string; channels: string[] }>>('GET', `${base}/control/connections`)
      live = conns.find((c) => c.channels.includes(`webgui:session:${info.world.session_a}`))
      if (live === undefined) await new Promise((r) => setTimeout(r, 50))
    }
    await http('POST', `${base}/control/scenario?seed=1`)
    let after: typeof sent = []
    for (let i = 0; i < 100; i++) {
      after = (await http<typeof sent>('GET', `${base}/control/sent`)).filter((r) => r.kind === 'ws' && r.conn === live!.id)
      if (ledger.frames.length - atRestart >= after.length && after.length > 10) break
      await new Promise((r) => setTimeout(r, 50))
    }
    expect(ledger.frames.length - atRestart).toBe(after.length)
    expect(ledger.refused).toBe(0)
    void again
  }, 60_000)
})

describe('forge (blind emulation)', () => {
  it('five endpoints as one connection: every event once, though /ws/dashboard repeats the others', async () => {
    const [cmd, args] = python('forge_server.py', '--metrics-interval', '0', '--dashboard-interval', '0')
    const backend = await start(cmd, [...args])
    const base = `http://127.0.0.1:${backend.port}`
    const t = forgeTransport({ WebSocket: WebSocket as unknown as WebSocketConstructor })
    const { codec, ledger } = counted(t.codec)
    const c = client({ url: `ws://127.0.0.1:${backend.port}`, dialect: codec, transport: t })
    const subs = ['agent:*', 'task:*', 'knowledge', 'metrics', 'global'].map((ch) => c.subscribe(ch))
    await until(() => c.state === 'open', 'open', 15_000)
    await Promise.all(subs.map((s) => s.ready))
    const plan = await http<{ messages: Array<{ message: { type: string }; endpoints?: string[] }> }>('POST', `${base}/control/scenario?seed=1`)
    // Each event once, however many endpoints carried it.
    await until(() => c.seen.length >= plan.messages.length, `${plan.messages.length} events`, 15_000)
    // What the server sent on the five endpoints, each event once: /ws/dashboard's copies of the
    // other endpoints' events and the protocol frames left out, its own snapshot on connect in.
    const sent = (await http<Array<{ kind: string; endpoint: string; json: string }>>('GET', `${base}/control/sent`)).filter((r) => r.kind === 'ws')
    const typeOf = (json: string) => (JSON.parse(json) as { type: string }).type
    const events = sent.filter((r) => {
      const type = typeOf(r.json)
      if (['connection_established', 'ping', 'pong', 'stats', 'error'].includes(type)) return false
      return r.endpoint !== '/ws/dashboard' || type === 'dashboard_update'
    })
    await until(() => c.seen.length >= events.length, `${events.length} events`)
    expect(c.seen.length).toBe(events.length)
    expect(events.length).toBe(plan.messages.length + 1)
    expect(ledger.refused).toBe(0)
    expect(c.stats.decodeErrors).toBe(0)
    // Every type the seed names is a canonical event here: none came untyped.
    expect(c.seen.filter((e) => e.type.includes(':'))).toEqual([])
    expect(c.getSnapshot().dashboard).not.toBeNull()
    expect(Object.keys(c.getSnapshot().metrics).length).toBeGreaterThan(0)
    report('forge', { sent: events.length, ...ledger })
  }, 60_000)
})
