import WebSocket, { WebSocketServer } from 'ws'
import { describe, expect, it } from 'vitest'
import * as z from 'zod'
import { createClient, type Client, type EventContext, type ResyncInfo, type WebSocketConstructor } from 'agentwire'
import { defineCommands, defineEvents, PROTOCOL_VERSION, type AgentwireError, type ClientEvent, type Registered } from 'agentwire/protocol'
import { createGateway, type CommandFrame, type Gateway } from 'agentwire/server'
import { createPublisher, redisBroker, type RedisBroker } from 'agentwire/redis'
import { deletePrefix, REDIS_URL, uniquePrefix } from '../redis/helpers'
import { cleanupsAfterEach, until } from '../server/support/core'

/**
 * The open protocol end to end, over real sockets: an event type, a reducer and a command of
 * the application's own, on a channel outside the built-in families, typed and validated in
 * both directions, through two gateway restarts on one Redis: one the client resumes from
 * (the window still holds what it missed) and one it resyncs from (the window moved on, so
 * the reducer's state comes back in the snapshot).
 */

// ── the application's definitions, shared by gateway, publisher and client ──────────────
const events = defineEvents({
  'deploy.finished': z.object({ service: z.string(), ok: z.boolean() }),
}).reducer('deploys', {
  initial: { total: 0, failed: [] as string[] },
  reduce: (state, event) =>
    event.type !== 'deploy.finished'
      ? state
      : { total: state.total + 1, failed: event.payload.ok ? state.failed : [...state.failed, event.payload.service] },
})
const commands = defineCommands({
  pause: { payload: z.object({ agent: z.string() }), result: z.object({ paused: z.string(), by: z.string() }) },
})

const cleanups = cleanupsAfterEach()
const WS = WebSocket as unknown as WebSocketConstructor

interface Running {
  gateway: Gateway<typeof events>
  broker: RedisBroker
}

/** One gateway process: a Redis broker and a gateway with the definitions, on `port`. */
type AppCommand = Extract<CommandFrame, { type: 'command' }>

async function startGateway(prefix: string, port: number, commandsRun: AppCommand[]): Promise<Running> {
  const broker = redisBroker({ url: REDIS_URL, prefix, retention: { size: 10, maxAgeMs: 0 }, onError: () => undefined })
  const gateway = createGateway({
    port,
    host: '127.0.0.1',
    broker,
    events,
    commands,
    authenticate: (token) => (token ? { id: token } : null),
    // The application's channels are the application's to authorize: only ops reads deploys.
    authorize: (principal, channel) => !channel.startsWith('deploys') || principal.id === 'ops',
    onCommand: (command, context) => {
      if (command.type !== 'command') return context.defaultHandler()
      commandsRun.push(command)
      const { agent } = command.payload as { agent: string }
      return { paused: agent, by: context.principal.id }
    },
  })
  await gateway.ready
  return { gateway, broker }
}

async function stop(running: Running): Promise<void> {
  await running.gateway.close({ drainMs: 100, reconnectWindowMs: 0 })
  await running.broker.close()
}

function client<E = typeof events, C = typeof commands>(url: string, token: string, withDefinitions = true): Client<E, C> {
  const c = createClient({
    url,
    token,
    WebSocket: WS,
    reconnect: { initialDelayMs: 20, maxDelayMs: 100, jitter: false },
    ...(withDefinitions ? { events, commands } : {}),
  }) as unknown as Client<E, C>
  cleanups.push(async () => c.close())
  return c
}

/** What the reducer gives for these events, folded here, to compare with what came over the wire. */
function expected(list: ReadonlyArray<{ service: string; ok: boolean }>) {
  return { total: list.length, failed: list.filter((d) => !d.ok).map((d) => d.service) }
}

describe('the open protocol over real sockets', () => {
  it('adds an event type, a reducer, a command and a channel of its own, typed and validated both ways, through a resume and a resync', async () => {
    const prefix = uniquePrefix('open')
    cleanups.push(async () => void (await deletePrefix(prefix)))
    const commandsRun: AppCommand[] = []
    let running = await startGateway(prefix, 0, commandsRun)
    const port = running.gateway.port
    cleanups.push(() => stop(running))
    const url = running.gateway.url

    const ops = client(url, 'ops')
    const received: Array<{ service: string; ok: boolean; seq: number | undefined }> = []
    const resyncs: ResyncInfo[] = []
    const errors: AgentwireError[] = []
    // Typed from the definitions: `payload.service` is a string, `payload.ok` a boolean.
    ops.on('deploy.finished', (event, ctx: EventContext) => received.push({ service: event.payload.service, ok: event.payload.ok, seq: ctx.seq }))
    ops.on('resync', (info) => resyncs.push(info))
    ops.on('error', (error) => errors.push(error))
    await ops.subscribe('deploys:prod').ready

    // A client with no definitions still gets every event, untyped, with its payload as it came.
    const plain = client<Registered['events'], Registered['commands']>(url, 'ops', false)
    const untyped: ClientEvent[] = []
    plain.on('event', (event) => untyped.push(event))
    await plain.subscribe('deploys:*').ready

    // Someone else may not read the application's channel: authorize decided.
    const guest = client(url, 'guest')
    await expect(guest.subscribe('deploys:prod').ready).rejects.toMatchObject({ code: 'forbidden' })

    // ── the gateway validates what it publishes ──
    const sent: Array<{ service: string; ok: boolean }> = []
    const publish = async (service: string, ok: boolean) => {
      sent.push({ service, ok })
      return running.gateway.publish('deploys:prod', { type: 'deploy.finished', payload: { service, ok } })
    }
    await publish('api', true)
    await publish('web', false)
    await expect(running.gateway.publish('deploys:prod', { type: 'deploy.finished', payload: { service: 'api', ok: 'yes' } } as never)).rejects.toMatchObject({
      code: 'bad_request',
      message: expect.stringMatching(/payload\.ok to be a boolean, got string/),
    })
    await expect(running.gateway.publish('deploys:prod', { type: 'deploy.started', payload: {} } as never)).rejects.toMatchObject({ code: 'unknown_event' })

    await until(() => received.length === 2, () => `ops got ${received.length} of 2`)
    expect(received.map((r) => r.service)).toEqual(['api', 'web'])
    expect(ops.reduced('deploys', 'deploys:prod')).toEqual(expected(sent))
    await until(() => untyped.length === 2, () => `the plain client got ${untyped.length} of 2`)
    expect(untyped[0]).toEqual({ type: 'agentwire:deploy.finished', payload: { service: 'api', ok: true }, untyped: true })

    // ── commands: checked on the client, validated and routed on the gateway, never a close ──
    await expect(ops.command('pause', { agent: 'planner' })).resolves.toEqual({ paused: 'planner', by: 'ops' })
    await expect(ops.command('pause', { agent: 42 } as never)).rejects.toMatchObject({ code: 'bad_request' })
    expect(commandsRun).toHaveLength(1)
    // A client without the definitions sends what it likes: the gateway refuses by reply.
    await expect(plain.command('pause', { agent: 42 })).rejects.toMatchObject({ code: 'bad_request', message: expect.stringMatching(/agent to be a string/) })
    await expect(plain.command('reboot', {})).rejects.toMatchObject({ code: 'unknown_command' })
    expect(plain.state).toBe('open')
    expect(commandsRun).toHaveLength(1)

    // ── restart 1: within the window, the client resumes; a command made offline goes once ──
    const states: string[] = []
    ops.on('state', (change) => states.push(change.current))
    await stop(running)
    await until(() => ops.state !== 'open', () => `ops is ${ops.state}`)
    const publisher = createPublisher({ url: REDIS_URL, prefix, retention: { size: 10, maxAgeMs: 0 }, events })
    cleanups.push(() => publisher.close())
    for (const [service, ok] of [['db', true], ['queue', false]] as const) {
      sent.push({ service, ok })
      await publisher.publish('deploys:prod', { type: 'deploy.finished', payload: { service, ok } })
    }
    await expect(publisher.publish('deploys:prod', { type: 'deploy.finished', payload: { service: 'x' } } as never)).rejects.toMatchObject({ code: 'bad_request' })
    const offline = ops.command('pause', { agent: 'critic' })
    running = await startGateway(prefix, port, commandsRun)
    await expect(offline).resolves.toEqual({ paused: 'critic', by: 'ops' })
    await until(() => received.length === 4, () => `ops got ${received.length} of 4 after the resume`)
    expect(received.map((r) => r.seq)).toEqual([1, 2, 3, 4])
    expect(resyncs).toEqual([])
    expect(ops.reduced('deploys', 'deploys:prod')).toEqual(expected(sent))
    expect(commandsRun.map((c) => (c.payload as { agent: string }).agent)).toEqual(['planner', 'critic'])

    // ── restart 2: more than the window missed, so a resync: the reducer's state comes from the snapshot ──
    await stop(running)
    await until(() => ops.state !== 'open', () => `ops is ${ops.state}`)
    // Redis trims whole stream nodes (MAXLEN ~): publish well past the window of 10.
    const burst = Array.from({ length: 400 }, (_, i) => ({ service: `svc-${i}`, ok: i % 3 !== 0 }))
    sent.push(...burst)
    await Promise.all(burst.map((d) => publisher.publish('deploys:prod', { type: 'deploy.finished', payload: d })))
    running = await startGateway(prefix, port, commandsRun)
    await until(() => resyncs.length > 0, () => 'no resync after the window moved on')
    expect(resyncs[0]).toMatchObject({ channel: 'deploys:prod', reason: 'window' })
    await until(() => (ops.reduced('deploys', 'deploys:prod') as { total: number }).total === sent.length, () => `total ${JSON.stringify(ops.reduced('deploys', 'deploys:prod'))}`)
    expect(ops.reduced('deploys', 'deploys:prod')).toEqual(expected(sent))
    // Live again after the snapshot: the next event folds onto it.
    await publish('edge', false)
    await until(() => received.some((r) => r.service === 'edge'), () => 'edge not received')
    expect(ops.reduced('deploys', 'deploys:prod')).toEqual(expected(sent))
    expect(errors).toEqual([])
    expect(states).toContain('reconnecting')
  }, 60_000)

  it('validates the application events it receives: an invalid one is reported, never delivered or folded', async () => {
    // A peer that speaks the protocol but sends a payload the schema refuses (a gateway on older definitions).
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' })
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
    await new Promise<void>((resolve) => server.once('listening', () => resolve()))
    server.on('connection', (socket) => {
      socket.on('message', (data) => {
        const frame = JSON.parse(String(data)) as { type: string; id?: string }
        const subscribed = [{ ok: true, channel: 'deploys:prod', recovered: false }]
        // The subscription comes in `hello` (restored at once) or in a `subscribe` frame.
        if (frame.type === 'hello') socket.send(JSON.stringify({ type: 'welcome', v: PROTOCOL_VERSION, session: 's', heartbeatMs: 0, subscriptions: (frame as { resume?: unknown[] }).resume ? subscribed : undefined }))
        if (frame.type === 'subscribe') socket.send(JSON.stringify({ type: 'reply', id: frame.id, ok: true, result: subscribed }))
        if (frame.type === 'subscribe' || (frame.type === 'hello' && (frame as { resume?: unknown[] }).resume)) {
          const event = (seq: number, payload: unknown) => JSON.stringify({ type: 'event', channel: 'deploys:prod', epoch: 'e', seq, event: { type: 'deploy.finished', payload } })
          socket.send(event(1, { service: 'api', ok: true }))
          socket.send(event(2, { service: 'web', ok: 'yes' }))
        }
      })
    })
    const { port } = server.address() as { port: number }
    const c = client(`ws://127.0.0.1:${port}/ws`, 'ops')
    const errors: AgentwireError[] = []
    const services: string[] = []
    c.on('error', (error) => errors.push(error))
    c.on('deploy.finished', (event) => services.push(event.payload.service))
    c.subscribe('deploys:prod')
    await until(() => errors.length > 0, () => 'no error reported')
    expect(errors[0]).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/payload\.ok to be a boolean/) })
    expect(services).toEqual(['api'])
    expect(c.reduced('deploys', 'deploys:prod')).toEqual({ total: 1, failed: [] })
    expect(c.stats.decodeErrors).toBe(1)
  })
})
