import { createAguiMapper, readSse } from 'agentwire/agui'
import { ProtocolError } from 'agentwire/protocol'
import type { CommandContext, CommandFrame, GatewayLogger } from './options'

/**
 * A gateway in front of an AG-UI agent: a `start` command runs the agent (an HTTP POST of
 * AG-UI's `RunAgentInput`, answered with an SSE stream, as `@ag-ui/client`'s HttpAgent
 * speaks), and every AG-UI event becomes canonical events published on `request:{id}`
 * through the broker. There they get positions, so every agentwire client follows the run
 * with replay and snapshots: a dropped connection loses nothing and repeats nothing, which
 * AG-UI over SSE alone cannot promise (its events carry no position).
 */
export interface AguiSourceOptions {
  /** The agent's endpoint, e.g. `http://localhost:8000/agent`. */
  url: string
  /** Extra request headers (an API key, say). @default none */
  headers?: Record<string, string>
  /** The `agent` named by `step.progress` and `request.error`. @default 'agent' */
  agent?: string
  /** @default globalThis.fetch */
  fetch?: typeof fetch
}

export interface AguiSource {
  /** Use as `createGateway({ onCommand })`; `next` is the handler it wraps (default: the gateway's own). */
  onCommand(command: CommandFrame, context: CommandContext): Promise<unknown>
  /** Runs in flight, by request id. */
  readonly running: ReadonlySet<string>
  /** Resolves when the run of `requestId` has published its last event (at once when none runs). */
  settled(requestId: string): Promise<void>
  /** Aborts every run in flight. */
  close(): void
}

export function aguiSource(options: AguiSourceOptions | string, log: GatewayLogger = () => undefined, next?: (command: CommandFrame, context: CommandContext) => unknown): AguiSource {
  const o = typeof options === 'string' ? { url: options } : options
  const doFetch = o.fetch ?? ((input, init) => fetch(input, init))
  const runs = new Map<string, { abort: AbortController; done: Promise<void> }>()

  async function run(requestId: string, command: Extract<CommandFrame, { type: 'start' }>, context: CommandContext, abort: AbortController): Promise<void> {
    const channel = `request:${requestId}`
    const mapper = createAguiMapper(requestId, { agent: o.agent, onError: (message) => log({ level: 'warn', message: 'agui: bad state delta', data: { requestId, message } }) })
    const ctx = command.context ?? {}
    const input = {
      threadId: typeof ctx.threadId === 'string' ? ctx.threadId : requestId,
      runId: requestId,
      state: ctx.state ?? {},
      messages: Array.isArray(ctx.messages) ? ctx.messages : [{ id: `${requestId}:query`, role: 'user', content: command.query }],
      tools: Array.isArray(ctx.tools) ? ctx.tools : [],
      context: [],
      forwardedProps: ctx.forwardedProps ?? {},
    }
    let failure: string | undefined
    try {
      const response = await doFetch(o.url, {
        method: 'POST',
        headers: { ...o.headers, 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify(input),
        signal: abort.signal,
      })
      if (!response.ok || !response.body) failure = `the agent answered HTTP ${response.status}`
      else {
        for await (const frame of readSse(response.body, abort.signal)) {
          let event: unknown
          try {
            event = JSON.parse(frame.data)
          } catch {
            log({ level: 'warn', message: 'agui: a frame that is not JSON', data: { requestId } })
            continue
          }
          // One at a time, in order: the broker gives each its position. An event the gateway
          // refuses (a `request.custom` whose raw event is too deep, say) is logged, not the run's end.
          for (const e of mapper.map(event)) {
            try {
              await context.publish(channel, e)
            } catch (error) {
              if (!(error instanceof ProtocolError)) throw error
              log({ level: 'warn', message: 'agui: an event the gateway refused', data: { requestId, type: e.type, message: error.message } })
            }
          }
        }
        if (!mapper.finished && !abort.signal.aborted) failure = 'the agent closed its stream before RUN_FINISHED'
      }
    } catch (error) {
      if (!abort.signal.aborted) failure = `the agent could not be reached: ${error instanceof Error ? error.message : String(error)}`
    }
    if (failure !== undefined) await context.publish(channel, { type: 'request.error', payload: { requestId, agent: o.agent ?? 'agent', message: failure } }).catch(() => undefined)
  }

  return {
    async onCommand(command, context) {
      // Stop the agent before the cancel is published, so nothing of it follows `request.cancelled`.
      if (command.type === 'cancel') runs.get(command.requestId)?.abort.abort()
      const result = await (next ? next(command, context) : context.defaultHandler())
      if (command.type === 'start' && !runs.has(command.requestId)) {
        const abort = new AbortController()
        const done = run(command.requestId, command, context, abort)
          .catch(() => log({ level: 'error', message: 'agui: run failed', data: { requestId: command.requestId } }))
          .finally(() => runs.delete(command.requestId))
        runs.set(command.requestId, { abort, done })
      }
      return result
    },
    get running() {
      return new Set(runs.keys())
    },
    settled: (requestId) => runs.get(requestId)?.done ?? Promise.resolve(),
    close() {
      for (const r of runs.values()) r.abort.abort()
    },
  }
}
