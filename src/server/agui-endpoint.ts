import type { IncomingMessage, ServerResponse } from 'node:http'
import { createAguiWriter, rewindSteps, rewindTranscript, sseFrame, type AguiEvent } from 'agentwire/agui'
import { parseChannel, type RequestView } from 'agentwire/protocol'
import type { Broker, StoredEvent } from './broker'
import { realClock } from './clock'
import type { AuthOutcome, GatewayCoreOptions, HandshakeInfo, Principal } from './options'
import { ANONYMOUS } from './options'

/**
 * The gateway's AG-UI endpoint: any request it carries, as an AG-UI run over SSE, so an AG-UI
 * frontend (`@ag-ui/client`'s HttpAgent, CopilotKit) can watch an agentwire backend.
 *
 * - `POST {path}` with AG-UI's `RunAgentInput` watches request `runId` (HttpAgent's way);
 *   `GET {path}/{requestId}` does the same for an `EventSource`. When the gateway has an AG-UI
 *   agent source and nothing was published on `request:{runId}` yet, the POST starts that run
 *   (as a `start` command with the input's messages, state and tools would), so a frontend
 *   pointed at the gateway runs the agent as it would pointed at the agent.
 * - Every frame carries `id: {epoch}:{seq}`, the position of the canonical event it came from.
 * - A stream starts with a prelude the verifier accepts (RUN_STARTED, MESSAGES_SNAPSHOT,
 *   STATE_SNAPSHOT, running steps and unclosed messages and tool calls re-opened). With a `Last-Event-ID` the
 *   replay window still holds, the prelude is the request as it stood at that position and the
 *   events after it follow, from exactly there; otherwise the prelude is the request as it
 *   stands now and the live events follow it. Either way each piece of text comes once.
 * - The stream ends after RUN_FINISHED / RUN_ERROR, or when the channel's continuity is lost
 *   (the client reattaches and gets a fresh prelude).
 *
 * Authentication takes the `Authorization: Bearer` token to the gateway's `authenticate`, and
 * the channel `request:{id}` goes through `authorize` as a subscribe.
 */
export interface AguiEndpointOptions {
  /** @default '/agui' */
  path?: string
  /**
   * A comment line (`: keepalive`) after this long without a frame, so proxies that close idle
   * responses keep the stream; 0 turns it off.
   * @default 15000
   */
  keepAliveMs?: number
}

export type AguiEndpoint = (request: IncomingMessage, response: ServerResponse) => Promise<boolean>

const MAX_BODY = 1024 * 1024

/**
 * Starts request `requestId` for a POST whose run the gateway has not seen (no event on its
 * channel yet), from AG-UI's `RunAgentInput`: given when the gateway has an AG-UI agent source,
 * so a frontend's POST runs the agent, as it would posting to the agent itself.
 */
export type AguiStart = (requestId: string, input: Record<string, unknown>, principal: Principal) => Promise<void>

export function aguiEndpoint(
  broker: Broker,
  gateway: Pick<GatewayCoreOptions, 'authenticate' | 'authorize' | 'clock'>,
  options: AguiEndpointOptions = {},
  start?: AguiStart,
): AguiEndpoint {
  const path = (options.path ?? '/agui').replace(/\/$/, '')
  const clock = gateway.clock ?? realClock
  const keepAliveMs = options.keepAliveMs ?? 15_000

  async function principalOf(request: IncomingMessage): Promise<Principal | null> {
    if (!gateway.authenticate) return ANONYMOUS
    const header = request.headers.authorization
    const token = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : undefined
    const handshake: HandshakeInfo = { headers: request.headers, remoteAddress: request.socket.remoteAddress, url: request.url, request }
    let outcome: AuthOutcome
    try {
      outcome = await gateway.authenticate(token, handshake)
    } catch {
      return null
    }
    if (outcome === null || outcome === undefined) return null
    if (typeof outcome === 'string') return { id: outcome }
    if ('principal' in outcome && outcome.principal !== undefined) {
      const p = outcome.principal as Principal | string
      return typeof p === 'string' ? { id: p } : p
    }
    return outcome as Principal
  }

  async function readBody(request: IncomingMessage): Promise<unknown> {
    let size = 0
    const chunks: Buffer[] = []
    for await (const chunk of request) {
      size += (chunk as Buffer).length
      if (size > MAX_BODY) throw new Error('too large')
      chunks.push(chunk as Buffer)
    }
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  }

  return async function handle(request, response) {
    const url = (request.url ?? '/').split('?')[0] as string
    let requestId: string | undefined
    let messages: unknown[] = []
    let threadId: string | undefined
    let input: Record<string, unknown> | undefined
    if (request.method === 'POST' && url === path) {
      try {
        input = (await readBody(request)) as Record<string, unknown>
      } catch {
        response.writeHead(400, { 'content-type': 'text/plain' }).end('expected a RunAgentInput as JSON')
        return true
      }
      requestId = typeof input?.runId === 'string' ? input.runId : undefined
      threadId = typeof input?.threadId === 'string' ? input.threadId : undefined
      if (Array.isArray(input?.messages)) messages = input.messages
    } else if (request.method === 'GET' && url.startsWith(`${path}/`)) {
      requestId = decodeURIComponent(url.slice(path.length + 1))
    } else return false

    const check = parseChannel(`request:${requestId ?? ''}`)
    if (!requestId || !check.ok || check.pattern) {
      response.writeHead(400, { 'content-type': 'text/plain' }).end('expected a request id (runId)')
      return true
    }
    const channel = check.channel
    const principal = await principalOf(request)
    if (!principal) {
      response.writeHead(401, { 'content-type': 'text/plain' }).end('unauthorized')
      return true
    }
    if (gateway.authorize && (await gateway.authorize(principal, channel, 'subscribe')) !== true) {
      response.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden')
      return true
    }
    let last = lastEventId(request)
    const before = start && input && !last ? await broker.snapshot(channel) : undefined
    if (start && input && before?.seq === 0) {
      try {
        await start(requestId, input, principal)
      } catch (error) {
        response.writeHead(502, { 'content-type': 'text/plain' }).end(`the run could not be started: ${error instanceof Error ? error.message : String(error)}`)
        return true
      }
      // The stream replays the run from its first event: what the agent said before the
      // subscribe and the request's view does not hold (a request.custom) is not missed.
      last = { epoch: before.epoch, seq: 0 }
    }
    await stream(channel, requestId, threadId, messages, last, response)
    return true
  }

  async function stream(channel: string, requestId: string, threadId: string | undefined, messages: unknown[], last: { epoch: string; seq: number } | undefined, response: ServerResponse): Promise<void> {
    const writer = createAguiWriter(requestId, threadId)
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' })
    let closed = false
    let position = ''
    let idle: unknown
    const keepAlive = () => {
      if (keepAliveMs <= 0 || closed) return
      clock.clearTimeout(idle)
      idle = clock.setTimeout(() => {
        if (closed) return
        response.write(': keepalive\n\n')
        keepAlive()
      }, keepAliveMs)
    }
    const write = (events: AguiEvent[]) => {
      for (const e of events) response.write(sseFrame(JSON.stringify(e), position))
      if (writer.finished) end()
      else if (events.length > 0) keepAlive()
    }
    // Live events are held until the prelude is written; those it already covers are dropped.
    let held: StoredEvent[] | undefined = []
    let head = { epoch: '', seq: 0 }
    let unsubscribe: (() => Promise<void>) | undefined
    const end = () => {
      if (closed) return
      closed = true
      clock.clearTimeout(idle)
      void unsubscribe?.().catch(() => undefined)
      response.end()
    }
    response.on('close', end)
    const deliver = (stored: StoredEvent) => {
      if (closed || stored.seq <= head.seq) return
      if (stored.epoch !== head.epoch) return end()
      position = `${stored.epoch}:${stored.seq}`
      head = { epoch: stored.epoch, seq: stored.seq }
      write(writer.map(stored.event))
    }
    unsubscribe = await broker.subscribe(channel, {
      event: (stored) => (held ? held.push(stored) : deliver(stored)),
      resync: () => end(),
    })
    if (closed) return void unsubscribe().catch(() => undefined)

    const snapshot = await broker.snapshot(channel)
    let view: RequestView | undefined = snapshot.state.requests[requestId]
    let replay: readonly StoredEvent[] = []
    head = { epoch: snapshot.epoch, seq: snapshot.seq }
    if (last && last.epoch === snapshot.epoch && last.seq <= snapshot.seq) {
      const read = await broker.read(channel, last)
      if (read.ok) {
        // The request as it stood at `last`: the transcript rewound; the shared state is whole in
        // each `request.state`, so the newest one stands in and the older ones are not replayed.
        replay = read.events.filter((e) => e.seq <= snapshot.seq)
        const ends = replay.some((e) => e.event.type === 'request.completed' || e.event.type === 'request.error' || e.event.type === 'request.cancelled')
        const events = replay.map((e) => e.event)
        if (view) view = { ...view, ...(ends ? { status: 'running' as const } : {}), steps: rewindSteps(view.steps, events), messages: rewindTranscript(view.messages ?? [], events) }
        head = last
      }
    }
    position = `${head.epoch}:${head.seq}`
    write(writer.prelude(view, messages))
    for (const stored of replay) if (stored.event.type !== 'request.state') deliver(stored)
    else head = { epoch: stored.epoch, seq: stored.seq }
    const pending = held
    held = undefined
    for (const stored of pending) deliver(stored)
  }
}

function lastEventId(request: IncomingMessage): { epoch: string; seq: number } | undefined {
  const raw = request.headers['last-event-id']
  if (typeof raw !== 'string') return undefined
  const at = raw.lastIndexOf(':')
  const seq = Number(raw.slice(at + 1))
  if (at <= 0 || !Number.isSafeInteger(seq) || seq < 0) return undefined
  return { epoch: raw.slice(0, at), seq }
}
