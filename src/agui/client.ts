import type { Transport, TransportConnection, TransportHandlers } from 'agentwire'
import { AgentwireError, CloseCode, ErrorCode, type Capabilities, type ClientFrame, type Codec, type DecodeResult, type EncodeResult, type ServerMessage } from 'agentwire/protocol'
import { createAguiMapper, type AguiMapper } from './from-agui'
import { readSse } from './sse'

/**
 * `createClient` pointed at an AG-UI agent endpoint (HTTP POST, SSE answer, as
 * `@ag-ui/client`'s HttpAgent speaks), with the same store and hooks:
 *
 * ```ts
 * import { createClient } from 'agentwire'
 * import { agui } from 'agentwire/agui'
 * const client = createClient({ url: 'https://agent.example.com/run', ...agui() })
 * const run = client.start({ query: 'Plan my week' })   // one AG-UI run
 * ```
 *
 * Runs become requests (`request:{runId}`), steps, messages, tool calls and shared state, as
 * `createAguiMapper` maps them.
 *
 * What it recovers after a drop, honestly: nothing by itself. AG-UI events carry no position
 * and an AG-UI agent has no way to continue a stream, so a run whose stream is cut ends as
 * `request.error` ("the stream was cut ..."), with the text received until then kept in the
 * store. Start the run again, or put an agentwire gateway in front of the agent
 * (`createGateway({ agui: url })`) and point the client at the gateway: then a drop resumes
 * from the last position, with nothing lost and nothing twice.
 */
export interface AguiClientOptions {
  /** Extra request headers (an API key, say), asked again for every run when a function. @default none */
  headers?: Record<string, string> | (() => Record<string, string>)
  /** @default globalThis.fetch */
  fetch?: typeof fetch
  /** The `agent` of steps and errors. @default 'agent' */
  agent?: string
}

/** What AG-UI can do, so the client falls back where it cannot: no positions, no resume, no server-side subscribe. */
export const AGUI_CAPABILITIES: Capabilities = Object.freeze({
  handshake: false,
  replies: false,
  serverSubscribe: false,
  resume: false,
  positions: false,
  rejoin: false,
  commands: true,
  heartbeat: 'none',
})

/** What the transport hands the codec: one AG-UI event of a run, or the run's stream ending without RUN_FINISHED. */
type AguiFrame = { readonly agui: string; readonly event: unknown } | { readonly agui: string; readonly cut: string } | { readonly agui: string; readonly cancelled: true }

/** The transport and codec for `createClient`: `createClient({ url, ...agui() })`. */
export function agui(options: AguiClientOptions = {}): { transport: Transport; dialect: Codec } {
  return { transport: aguiTransport(options), dialect: aguiCodec(options) }
}

/** The codec: each run's AG-UI events through its own mapper (chunks and state deltas need the run's history). */
export function aguiCodec(options: Pick<AguiClientOptions, 'agent'> = {}): Codec {
  const mappers = new Map<string, AguiMapper>()
  return {
    name: 'agui',
    capabilities: AGUI_CAPABILITIES,
    decode(frame: unknown): DecodeResult {
      const f = frame as AguiFrame
      if (typeof f !== 'object' || f === null || typeof f.agui !== 'string') return { ok: true, messages: [], unknown: 'agui:frame' }
      const requestId = f.agui
      const channel = `request:${requestId}`
      let mapper = mappers.get(requestId)
      if (!mapper) mappers.set(requestId, (mapper = createAguiMapper(requestId, { started: false, agent: options.agent })))
      if ('cancelled' in f) {
        mappers.delete(requestId)
        return { ok: true, messages: [{ type: 'event', channel, event: { type: 'request.cancelled', payload: { requestId } } }] }
      }
      if ('cut' in f) {
        mappers.delete(requestId)
        const message = `the stream was cut (${f.cut}); AG-UI cannot resume a run: start it again, or watch it through an agentwire gateway`
        return { ok: true, messages: [{ type: 'event', channel, event: { type: 'request.error', payload: { requestId, agent: options.agent ?? 'agent', message } } }] }
      }
      const events = mapper.map(f.event)
      if (mapper.finished) mappers.delete(requestId)
      const messages: ServerMessage[] = events.map((event) => ({ type: 'event', channel, event }))
      if (messages.length === 0) {
        const type = typeof (f.event as { type?: unknown })?.type === 'string' ? (f.event as { type: string }).type : 'unknown'
        return { ok: true, messages: [], unknown: `agui:${type}` }
      }
      return { ok: true, messages }
    },
    encode(command: ClientFrame): EncodeResult<string> {
      switch (command.type) {
        case 'start':
          return { ok: true, frame: JSON.stringify({ run: command.requestId, query: command.query, context: command.context ?? {} }) }
        case 'cancel':
          return { ok: true, frame: JSON.stringify({ cancel: command.requestId }) }
        case 'ack':
          return { ok: true, frames: [] }
        default:
          return { ok: false, error: new AgentwireError(ErrorCode.Unsupported, `an AG-UI agent has no "${command.type}" command`) }
      }
    },
  }
}

/**
 * The transport: no socket. A `start` is a POST of AG-UI's `RunAgentInput` to the client's
 * `url`; its SSE answer comes back as frames for the codec. `cancel` aborts the run's request.
 * The connection itself cannot drop (it is only the set of runs in flight); each run's stream
 * can, and ends as described on {@link AguiClientOptions}.
 */
export function aguiTransport(options: AguiClientOptions = {}): Transport {
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init))
  return {
    name: 'agui',
    connect(url: string, handlers: TransportHandlers): TransportConnection {
      const runs = new Map<string, AbortController>()
      let closed = false
      queueMicrotask(() => {
        if (!closed) handlers.onOpen()
      })
      async function run(requestId: string, query: string, context: Record<string, unknown>): Promise<void> {
        const abort = new AbortController()
        runs.set(requestId, abort)
        let finished = false
        let cut: string | undefined
        try {
          const headers = typeof options.headers === 'function' ? options.headers() : options.headers
          const response = await doFetch(url, {
            method: 'POST',
            headers: { ...headers, 'content-type': 'application/json', accept: 'text/event-stream' },
            body: JSON.stringify({
              threadId: typeof context.threadId === 'string' ? context.threadId : requestId,
              runId: requestId,
              state: context.state ?? {},
              messages: Array.isArray(context.messages) ? context.messages : [{ id: `${requestId}:query`, role: 'user', content: query }],
              tools: Array.isArray(context.tools) ? context.tools : [],
              context: [],
              forwardedProps: context.forwardedProps ?? {},
            }),
            signal: abort.signal,
          })
          if (!response.ok || !response.body) cut = `HTTP ${response.status}`
          else {
            for await (const frame of readSse(response.body, abort.signal)) {
              let event: unknown
              try {
                event = JSON.parse(frame.data)
              } catch {
                handlers.onError?.(new AgentwireError(ErrorCode.BadRequest, 'an AG-UI frame that is not JSON'))
                continue
              }
              const type = (event as { type?: unknown } | null)?.type
              if (type === 'RUN_FINISHED' || type === 'RUN_ERROR') finished = true
              if (!closed) handlers.onFrame({ agui: requestId, event } satisfies AguiFrame)
            }
            if (!finished) cut = 'it ended before RUN_FINISHED'
          }
        } catch (error) {
          cut = error instanceof Error ? error.message : String(error)
        } finally {
          runs.delete(requestId)
        }
        if (closed) return
        // A cancel aborts the request: the agent has no cancel of its own, so the client says it.
        if (abort.signal.aborted) handlers.onFrame({ agui: requestId, cancelled: true } satisfies AguiFrame)
        else if (cut !== undefined) handlers.onFrame({ agui: requestId, cut } satisfies AguiFrame)
      }
      return {
        send(frame) {
          if (closed || typeof frame !== 'string') return
          const command = JSON.parse(frame) as { run?: string; query?: string; context?: Record<string, unknown>; cancel?: string }
          if (command.run !== undefined) void run(command.run, command.query ?? '', command.context ?? {})
          else if (command.cancel !== undefined) runs.get(command.cancel)?.abort()
        },
        close(code = CloseCode.Normal, reason = '') {
          if (closed) return
          closed = true
          for (const abort of runs.values()) abort.abort()
          runs.clear()
          handlers.onClose(code, reason)
        },
      }
    },
  }
}
