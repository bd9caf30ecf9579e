import { afterEach, describe, expect, it } from 'vitest'
import NodeWebSocket from 'ws'
import { createClient, forgeTransport, type Client, type ClientOptions, type ConnectionStatus, type ResyncInfo, type WebSocketConstructor } from 'agentwire'
import { createProgressCodec, dialects, type AgentwireState, type Capabilities } from 'agentwire/protocol'
import { socketIoTransport } from 'agentwire/socket.io'
import { until, type SeedServer } from './servers/control'
import { startForgeServer, type ForgeServer } from './servers/forge'
import { startProgressServer, type ProgressServer } from './servers/progress'
import { startRoomsServer, type RoomsServer } from './servers/rooms'
import { startRoutingServer, type RoutingServer } from './servers/routing'
import { startWebguiServer, type WebguiServer } from './servers/webgui'

/**
 * One scenario suite, five backends built as their seeds describe. Each backend says how to
 * reach it, how to publish one event on a channel the client follows (and one on a channel it
 * does not), where that event lands in the store, which commands it takes, and what it can
 * recover after a drop. The scenarios are the same for all.
 */
interface Backend<S extends SeedServer = SeedServer> {
  name: 'routing' | 'webgui' | 'rooms' | 'progress' | 'forge'
  start(): Promise<S>
  options(server: S): Omit<ClientOptions, 'reconnect'>
  /** The channel the client follows, and one it does not. */
  channel: string
  other: string
  /** Publishes the n-th event on `channel` (or on `other`). */
  publish(server: S, n: number, on: 'channel' | 'other'): void
  /** The n-th event, as the store shows it; `undefined` when absent. */
  read(state: AgentwireState, on: 'channel' | 'other'): number | undefined
  /** How the backend makes subscriptions: on the server (and how to see them there), or not at all. */
  serverSide?(server: S): { has: boolean; hasOther: boolean }
  /** What recovery the backend gets after a drop. */
  recovery: 'rejoin' | 'resync'
}

// `ws`'s class types its event handlers more narrowly than the WHATWG shape the client takes.
const WebSocket = NodeWebSocket as unknown as WebSocketConstructor

const FAST_RECONNECT = { initialDelayMs: 10, maxDelayMs: 50 }
const ts = () => new Date().toISOString()

const routing: Backend<RoutingServer> = {
  name: 'routing',
  start: startRoutingServer,
  options: (s) => ({ url: s.url, dialect: dialects.routing, WebSocket }),
  channel: 'agent:planner',
  other: 'agent:critic',
  publish: (s, n, on) => s.publish({ type: 'agent_status', payload: { name: on === 'channel' ? 'planner' : 'critic', status: 'busy', load: n } }),
  read: (state, on) => state.agents[on === 'channel' ? 'planner' : 'critic']?.load,
  recovery: 'resync',
}

const webgui: Backend<WebguiServer> = {
  name: 'webgui',
  start: () => startWebguiServer({ tokens: { 'tok-u1': 'u1', 'tok-u2': 'u2' }, sessions: { s1: 'u1', s2: 'u1' } }),
  // The seed's FastAPI route reads the user from the query string; that is the backend as written.
  options: (s) => ({ url: `${s.url}?token=tok-u1`, dialect: dialects.webgui, WebSocket }),
  channel: 'session:s1',
  other: 'session:s2',
  publish: (s, n, on) => {
    const id = on === 'channel' ? 's1' : 's2'
    s.publish(`webgui:session:${id}`, { type: 'session_status_changed', timestamp: ts(), session_id: id, data: { status: 'testing', progress: n } })
  },
  read: (state, on) => state.sessions[on === 'channel' ? 's1' : 's2']?.progress,
  serverSide: (s) => {
    const subs = s.subscriptions().flat()
    return { has: subs.includes('webgui:session:s1'), hasOther: subs.includes('webgui:session:s2') }
  },
  recovery: 'resync',
}

const rooms: Backend<RoomsServer> = {
  name: 'rooms',
  start: startRoomsServer,
  options: (s) => ({ url: s.url, dialect: dialects.rooms, transport: socketIoTransport() }),
  channel: 'agent:a1',
  other: 'agent:a2',
  publish: (s, n, on) => {
    const agentId = on === 'channel' ? 'a1' : 'a2'
    s.publish('agent:updated', { agentId, agent: { name: agentId, n }, userId: 'u1', timestamp: ts() })
  },
  read: (state, on) => state.agents[on === 'channel' ? 'a1' : 'a2']?.details?.n as number | undefined,
  serverSide: (s) => {
    const joined = s.rooms().flat()
    return { has: joined.includes('agent:a1'), hasOther: joined.includes('agent:a2') }
  },
  recovery: 'resync',
}

const progress: Backend<ProgressServer> = {
  name: 'progress',
  start: startProgressServer,
  // One socket per request, as the seed connects: the request id travels in the handshake query.
  options: (s) => ({ url: s.url, dialect: createProgressCodec({ requestId: 'req-1' }), transport: socketIoTransport({ query: { requestId: 'req-1' } }) }),
  channel: 'request:req-1',
  other: 'request:req-2',
  publish: (s, n, on) => s.progress(on === 'channel' ? 'req-1' : 'req-2', { agent: 'executor-agent', step: n, status: 'running' }),
  read: (state, on) => {
    const steps = state.requests[on === 'channel' ? 'req-1' : 'req-2']?.steps ?? []
    return steps.length === 0 ? undefined : Math.max(...steps.map((s) => s.step))
  },
  // The room comes from the handshake: the server sends this socket its own request only.
  recovery: 'rejoin',
}

// One forge transport per client: it remembers the endpoints across reconnects.
const forgeTransports = new Map<ForgeServer, ReturnType<typeof forgeTransport>>()
const forge: Backend<ForgeServer> = {
  name: 'forge',
  start: startForgeServer,
  options: (s) => {
    const transport = forgeTransport({ WebSocket })
    forgeTransports.set(s, transport)
    return { url: s.url, dialect: transport.codec, transport }
  },
  channel: 'task:t1',
  other: 'metrics',
  publish: (s, n, on) =>
    on === 'channel'
      ? s.publish('/ws/tasks', { type: 'task_progress', data: { task_id: 't1', progress: n }, timestamp: ts() })
      : s.publish('/ws/metrics', { type: 'system_metrics', data: { values: { cpu: n } }, timestamp: ts() }),
  read: (state, on) => (on === 'channel' ? state.tasks.t1?.progress : state.metrics.system?.values.cpu),
  // The subscription is the choice of endpoint.
  serverSide: (s) => ({ has: s.perEndpoint()['/ws/tasks'] === 1, hasOther: s.perEndpoint()['/ws/metrics'] > 0 }),
  recovery: 'resync',
}

const BACKENDS = [routing, webgui, rooms, progress, forge] as Backend[]

// ── harness ─────────────────────────────────────────────────────────────────────────────

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

interface Setup {
  server: SeedServer
  client: Client
  states: ConnectionStatus[]
  resyncs: ResyncInfo[]
}

async function setup(backend: Backend): Promise<Setup> {
  const server = await backend.start()
  cleanup.push(() => server.close())
  const client = createClient({ ...backend.options(server), reconnect: FAST_RECONNECT })
  cleanup.push(() => client.close())
  const states: ConnectionStatus[] = []
  const resyncs: ResyncInfo[] = []
  client.on('state', (change) => states.push(change.current))
  client.on('resync', (info) => resyncs.push(info))
  // Errors are asserted where a scenario expects one; the rest must not go unseen.
  client.on('error', () => {})
  return { server, client, states, resyncs }
}

/** Publishes until the store shows it: a backend without server-side acks cannot say when a subscription took. */
async function publishUntilSeen(backend: Backend, s: Setup, n: number): Promise<void> {
  await until(() => {
    if (backend.read(s.client.getSnapshot(), 'channel') === n) return true
    backend.publish(s.server, n, 'channel')
    return false
  }, `${backend.name}: event ${n} in the store`)
}

const capabilitiesOf: Record<Backend['name'], Capabilities> = {
  routing: dialects.routing.capabilities,
  webgui: dialects.webgui.capabilities,
  rooms: dialects.rooms.capabilities,
  progress: dialects.progress.capabilities,
  forge: dialects.forge.capabilities,
}

// ── the scenarios ──────────────────────────────────────────────────────────────────────

describe.each(BACKENDS)('against a $name backend built as its seed describes', (backend) => {
  it('connects and says what the backend can do', async () => {
    const s = await setup(backend)
    await until(() => s.client.state === 'open', 'open')
    const caps = capabilitiesOf[backend.name]
    // None of the seeds keeps a log: no positions, no resume. Only progress answers rejoin.
    expect(caps.resume).toBe(false)
    expect(caps.positions).toBe(false)
    expect(caps.rejoin).toBe(backend.recovery === 'rejoin')
  })

  it('delivers typed events of the channels it follows into the store, and none of the others', async () => {
    const s = await setup(backend)
    const seen: unknown[] = []
    s.client.on('event', (event, context) => seen.push([event.type, context.channel]))
    s.client.subscribe(backend.channel)
    await until(() => s.client.state === 'open', 'open')
    await publishUntilSeen(backend, s, 1)
    expect(seen[0]).toEqual([expect.any(String), backend.channel])
    // The other channel's event, then one more on ours: once ours is in, the other one had its chance.
    backend.publish(s.server, 7, 'other')
    await publishUntilSeen(backend, s, 2)
    expect(backend.read(s.client.getSnapshot(), 'other')).toBeUndefined()
    expect(seen.every((entry) => (entry as [string, string])[1] === backend.channel)).toBe(true)
    if (backend.serverSide) {
      expect(backend.serverSide(s.server)).toEqual({ has: true, hasOther: false })
    }
  })

  it('rejects a command the backend does not have with a typed unsupported error', async () => {
    const s = await setup(backend)
    await until(() => s.client.state === 'open', 'open')
    if (capabilitiesOf[backend.name].commands) {
      // progress has start, cancel and feedback; the command it lacks is an ack.
      const errors: string[] = []
      s.client.on('error', (error) => errors.push(error.code))
      s.client.ack(backend.channel, 1, { messageId: 'm1' })
      await until(() => errors.length > 0, 'the error')
      expect(errors[0]).toBe('unsupported')
      return
    }
    const run = s.client.start({ query: 'plan a trip' })
    await expect(run.accepted).rejects.toMatchObject({ code: 'unsupported' })
    await expect(run.result).rejects.toMatchObject({ code: 'unsupported' })
    await expect(s.client.cancel('req-x')).rejects.toMatchObject({ code: 'unsupported' })
  })

  it('comes back after the server drops the connection, and says honestly what it recovered', async () => {
    const s = await setup(backend)
    s.client.subscribe(backend.channel)
    await until(() => s.client.state === 'open', 'open')
    await publishUntilSeen(backend, s, 1)
    const acceptedBefore = s.server.accepted
    s.states.length = 0
    s.server.dropAll()
    await until(() => s.states.includes('reconnecting') && s.client.state === 'open', 'reconnecting, then open')
    expect(s.states[0]).toBe('reconnecting')
    expect(s.server.accepted).toBeGreaterThan(acceptedBefore)
    // Nothing to replay from on any seed: the client says so, once per channel it follows.
    await until(() => s.resyncs.length > 0, 'a resync')
    expect(s.resyncs).toEqual([{ channel: backend.channel, reason: 'reconnect' }])
    // And the stream goes on.
    await publishUntilSeen(backend, s, 2)
  })
})

// ── what only some backends do ─────────────────────────────────────────────────────────

describe('progress: commands and rejoin', () => {
  it('sends start, cancel and feedback as the seed names them', async () => {
    const s = await setup(progress)
    const server = s.server as ProgressServer
    await until(() => s.client.state === 'open', 'open')
    const run = s.client.start({ query: 'summarise the logs', requestId: 'req-1', context: { lang: 'en' } })
    run.result.catch(() => {})
    // The seed acknowledges nothing: a command is done once it is sent.
    await expect(run.accepted).resolves.toBeUndefined()
    await expect(run.feedback('q-1', 'yes')).resolves.toBeUndefined()
    await expect(run.cancel()).resolves.toBeUndefined()
    await until(() => server.received.length >= 3, 'three commands')
    expect(server.received.slice(0, 3)).toEqual([
      { type: 'start', data: { type: 'start', requestId: 'req-1', userQuery: 'summarise the logs', context: { lang: 'en' } } },
      { type: 'feedback', data: { type: 'feedback', requestId: 'req-1', questionId: 'q-1', answer: 'yes' } },
      { type: 'cancel', data: { type: 'cancel', requestId: 'req-1' } },
    ])
  })

  it('restores a request with rejoin → state after a drop, including what happened while it was down', async () => {
    const s = await setup(progress)
    const server = s.server as ProgressServer
    s.client.subscribe('request:req-1')
    await until(() => s.client.state === 'open', 'open')
    await publishUntilSeen(progress, s, 1)
    // No handler asks for it: after the reconnect the client rejoins the request it follows by itself.
    s.server.dropAll()
    await until(() => s.client.state === 'reconnecting', 'reconnecting')
    // While the client is away, the request moves on; the live events are lost to it.
    server.progress('req-1', { agent: 'executor-agent', step: 2, status: 'completed' })
    server.agentCompleted('req-1', 'executor-agent')
    server.completed('req-1', { answer: 42 })
    await until(() => s.client.getSnapshot().requests['req-1']?.status === 'completed', 'the request restored from state')
    const view = s.client.getSnapshot().requests['req-1']!
    expect(view.steps.map((step) => [step.step, step.status])).toEqual([
      [1, 'running'],
      [2, 'completed'],
    ])
    expect(view.completedAgents).toEqual(['executor-agent'])
    expect(view.result).toEqual({ answer: 42 })
    expect(server.received.filter((c) => c.type === 'rejoin')).toEqual([{ type: 'rejoin', data: { requestId: 'req-1' } }])
  })
})

describe('rooms: acknowledgements and rooms follow the client', () => {
  it('acknowledges messages with message:received and message:read', async () => {
    const s = await setup(rooms)
    const server = s.server as RoomsServer
    await until(() => s.client.state === 'open', 'open')
    s.client.ack('chat:c1', 0, { messageId: 'm-1' })
    s.client.ack('chat:c1', 0, { messageId: 'm-1', kind: 'read' })
    // client:ready goes first now (the seed's "ready to receive events"), so only the message acks are compared.
    const acks = () => server.received.filter((r) => r.type.startsWith('message:'))
    await until(() => acks().length >= 2, 'two acks')
    expect(acks()).toEqual([
      { type: 'message:received', data: { messageId: 'm-1' } },
      { type: 'message:read', data: { messageId: 'm-1' } },
    ])
  })

  it('joins its rooms again on the new socket after a drop, and leaves a room on unsubscribe', async () => {
    const s = await setup(rooms)
    const server = s.server as RoomsServer
    const chat = s.client.subscribe('chat:c1')
    s.client.subscribe('collection:k1')
    await until(() => server.rooms().flat().includes('collection:k1'), 'rooms joined')
    server.dropAll()
    await until(() => s.client.state === 'open' && server.connections() === 1 && server.rooms()[0]?.length === 2, 'rooms joined again')
    expect(server.rooms()[0]?.sort()).toEqual(['chat:c1', 'collection:k1'])
    chat.unsubscribe()
    await until(() => server.rooms()[0]?.length === 1, 'the chat room left')
    expect(server.rooms()[0]).toEqual(['collection:k1'])
  })
})

describe('webgui: permission filtering on the server', () => {
  it('refuses another user\'s channel, and nothing of it reaches the client', async () => {
    const s = await setup(webgui)
    const server = s.server as WebguiServer
    const errors: string[] = []
    s.client.on('error', (error) => errors.push(error.code))
    s.client.subscribe('user:u2')
    s.client.subscribe('user:u1')
    await until(() => server.refused === 1 && errors.length > 0, 'the refusal')
    expect(errors).toContain('forbidden')
    server.publish('webgui:user:u2', { type: 'notification', timestamp: ts(), session_id: null, data: { user_id: 'u2', message: 'secret' } })
    await until(() => {
      server.publish('webgui:user:u1', { type: 'notification', timestamp: ts(), session_id: null, data: { user_id: 'u1', message: 'mine' } })
      return s.client.getSnapshot().notifications.length > 0
    }, 'the own notification')
    expect(s.client.getSnapshot().notifications.map((n) => n.message)).not.toContain('secret')
  })
})

describe('forge: endpoints follow subscriptions', () => {
  it('opens only the endpoints its channels need, closes one no channel needs, and keeps each alive with text pings', async () => {
    const s = await setup(forge)
    const server = s.server as ForgeServer
    const transport = forgeTransports.get(server)!
    const tasks = s.client.subscribe('task:t1')
    const knowledge = s.client.subscribe('knowledge')
    await Promise.all([tasks.ready, knowledge.ready])
    expect(server.perEndpoint()).toMatchObject({ '/ws/tasks': 1, '/ws/knowledge': 1, '/ws/agents': 0, '/ws/metrics': 0, '/ws/dashboard': 0 })
    expect(transport.endpoints).toEqual(['/ws/tasks', '/ws/knowledge'])
    knowledge.unsubscribe()
    await until(() => server.perEndpoint()['/ws/knowledge'] === 0, 'the knowledge endpoint closed')
    expect(s.client.state).toBe('open')
  })

  it('reopens every endpoint it needs before it says open again after one endpoint drops', async () => {
    const s = await setup(forge)
    const server = s.server as ForgeServer
    s.client.subscribe('task:t1')
    s.client.subscribe('agent:a1')
    await until(() => server.connections() === 2, 'two endpoints')
    s.states.length = 0
    server.dropAll()
    await until(() => s.states.includes('reconnecting') && s.client.state === 'open', 'open again')
    // Open means every endpoint is open.
    expect(server.perEndpoint()).toMatchObject({ '/ws/tasks': 1, '/ws/agents': 1 })
    expect(s.resyncs.map((r) => r.channel).sort()).toEqual(['agent:a1', 'task:t1'])
  })
})
