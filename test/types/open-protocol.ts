/**
 * Type test (checked by `npm run typecheck`): the application's definitions flow from
 * `defineEvents` / `defineCommands` to the client, the gateway and the publisher with no cast
 * in user code. Lines marked `@ts-expect-error` must stay errors.
 */
import * as z from 'zod'
import { createClient, type Client } from 'agentwire'
import { defineCommands, defineEvents, type AgentEvent, type ClientEvent, type UntypedEvent, type UserEvent } from 'agentwire/protocol'
import { createGateway } from 'agentwire/server'
import { createPublisher } from 'agentwire/redis'

type Check<T extends true> = T
type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false
const holds = <T extends true>(value: T): T => value

const events = defineEvents({
  'deploy.finished': z.object({ service: z.string(), ok: z.boolean() }),
  'budget.exceeded': z.object({ team: z.string(), spent: z.number() }),
}).reducer('deploys', {
  initial: { total: 0, failed: [] as string[] },
  // `event` is every event: built-in and the application's, narrowed by `type`.
  reduce: (state, event) => (event.type === 'deploy.finished' && !event.payload.ok ? { ...state, failed: [...state.failed, event.payload.service] } : state),
}).reducer('spent', {
  initial: 0,
  reduce: (total, event) => (event.type === 'budget.exceeded' ? total + event.payload.spent : total),
})
const commands = defineCommands({
  pause: { payload: z.object({ agent: z.string() }), result: z.object({ paused: z.boolean() }) },
  'agent.resume': z.object({ agent: z.string(), reason: z.optional(z.string()) }),
})

// ── the client ──
const client = createClient({ url: 'ws://localhost:8787/ws', events, commands })
export type _client = Check<Equal<typeof client, Client<typeof events, typeof commands>>>

client.on('deploy.finished', (event, context) => {
  holds<Equal<typeof event, UserEvent<'deploy.finished', { service: string; ok: boolean }>>>(true)
  const service: string = event.payload.service
  const channel: string = context.channel
  void service, void channel
})
// Built-in events keep their types.
client.on('agent.status', (event) => {
  const name: string = event.payload.name
  void name
})
// @ts-expect-error: a type nobody defined
client.on('deploy.started', () => undefined)
client.on('deploy.finished', (event) => {
  // @ts-expect-error: not a field of the schema
  void event.payload.version
})
client.on('event', (event) => {
  holds<Equal<typeof event, ClientEvent<typeof events>>>(true)
  // Narrowing by type works across built-in, the application's and untyped events.
  if (event.type === 'budget.exceeded') {
    const spent: number = event.payload.spent
    void spent
  } else if ('untyped' in event) {
    const payload: unknown = event.payload
    void payload
  }
})
export type _everyUnion = Check<Equal<ClientEvent<typeof events>, AgentEvent | UserEvent<'deploy.finished', { service: string; ok: boolean }> | UserEvent<'budget.exceeded', { team: string; spent: number }> | UntypedEvent>>

// Commands: name, payload and result typed.
const paused = client.command('pause', { agent: 'planner' })
export type _paused = Check<Equal<typeof paused, Promise<{ paused: boolean }>>>
const resumed = client.command('agent.resume', { agent: 'planner' }, { timeoutMs: 2000 })
export type _resumed = Check<Equal<typeof resumed, Promise<unknown>>>
// @ts-expect-error: wrong payload
void client.command('pause', { agent: 42 })
// @ts-expect-error: unknown command
void client.command('reboot', {})

// Reducer states by name.
const deploys = client.reduced('deploys', 'deploys:prod')
export type _deploys = Check<Equal<typeof deploys, { total: number; failed: string[] }>>
const spent = client.reduced('spent', 'budgets:eu')
export type _spent = Check<Equal<typeof spent, number>>
// @ts-expect-error: no such reducer
client.reduced('nope', 'deploys:prod')

// ── the gateway ──
const gateway = createGateway({
  events,
  commands,
  onCommand: (command, context) => {
    if (command.type !== 'command') return context.defaultHandler()
    if (command.name === 'pause') {
      const agent: string = command.payload.agent
      return { paused: agent.length > 0 }
    }
    const reason: string | undefined = command.payload.reason
    return { resumed: true, reason, by: context.principal.id }
  },
})
void gateway.publish('deploys:prod', { type: 'deploy.finished', payload: { service: 'api', ok: true } })
void gateway.publish('agent:planner', { type: 'agent.status', payload: { name: 'planner', status: 'busy' } })
// @ts-expect-error: payload of the wrong shape
void gateway.publish('deploys:prod', { type: 'deploy.finished', payload: { service: 'api', ok: 'yes' } })
// @ts-expect-error: a type nobody defined
void gateway.publish('deploys:prod', { type: 'deploy.started', payload: {} })

// ── a publisher of its own (another process) ──
const publisher = createPublisher({ url: 'redis://127.0.0.1:6379', events })
void publisher.publish('budgets:eu', { type: 'budget.exceeded', payload: { team: 'eu', spent: 12 } })
