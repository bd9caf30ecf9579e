// @vitest-environment happy-dom
/**
 * The application's own events, reducers and commands in Vue: a component on the mock
 * gateway, and a type check of the composables through `Register` (in a program of its own,
 * since augmenting `Register` types the whole program).
 */
import { defineComponent, h, ref, watch, type Ref } from 'vue'
import { mount, type VueWrapper } from '@vue/test-utils'
import * as z from 'zod'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { EventHandler } from 'agentwire'
import { defineCommands, defineEvents, type CommandPayload, type CommandResult, type KnownEventType, type ReducedStates } from 'agentwire/protocol'
import { agentwire, useCommand, useEvent, useReduced, type ReadonlyRef } from 'agentwire/vue'
import { createMockGateway, type MockGateway } from 'agentwire/testing'
import { typecheckFile } from '../support/typecheck'

const events = defineEvents({
  'deploy.finished': z.object({ service: z.string(), ok: z.boolean() }),
}).reducer('deploys', {
  initial: { total: 0, failed: [] as string[] },
  reduce: (state, event) =>
    event.type !== 'deploy.finished' ? state : { total: state.total + 1, failed: event.payload.ok ? state.failed : [...state.failed, event.payload.service] },
})
const commands = defineCommands({ pause: { payload: z.object({ agent: z.string() }), result: z.object({ paused: z.string() }) } })

// This program registers nothing (the check at the end does): the composables, typed as `Register` would type them.
type E = typeof events
type C = typeof commands
type Deploys = ReducedStates<E>['deploys']
const useDeployEvent = useEvent as unknown as <T extends KnownEventType<E>>(type: T, handler: EventHandler<T, E>) => void
const useDeploys = useReduced as unknown as {
  (name: 'deploys', channel: Ref<string>): ReadonlyRef<Deploys>
  <T>(name: 'deploys', channel: Ref<string>, selector: (state: Deploys) => T): ReadonlyRef<T>
}
const usePause = useCommand as unknown as (name: 'pause') => (payload: CommandPayload<C, 'pause'>) => Promise<CommandResult<C, 'pause'>>

let gateway: MockGateway<E>
let wrapper: VueWrapper | undefined

beforeEach(() => {
  gateway = createMockGateway({ events, commands, onCommand: (command) => ({ paused: (command.payload as { agent: string }).agent }) })
})
afterEach(() => {
  wrapper?.unmount()
  wrapper = undefined
  gateway.close()
})

/** Polls an assertion on real timers: the mock's frames travel on 4 ms timers. */
async function eventually(assertion: () => void, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs
  for (;;) {
    try {
      return assertion()
    } catch (error) {
      if (Date.now() > until) throw error
      await new Promise((r) => setTimeout(r, 5))
    }
  }
}

const subscribed = (channel: string) =>
  gateway.waitFor(
    (f) => (f.type === 'subscribe' && f.channels.some((c) => c.channel === channel)) || (f.type === 'hello' && (f.resume ?? []).some((c) => c.channel === channel)),
  )

describe('useEvent, useReduced and useCommand with the application’s definitions', () => {
  it('hears a user event typed, follows the reducer’s state from the snapshot, live and across channels, and answers a command', async () => {
    const channel = ref('deploys:prod')
    let failedChanges = 0
    let pause!: (payload: { agent: string }) => Promise<{ paused: string }>
    const Deploys = defineComponent({
      setup() {
        const last = ref('nothing yet')
        const whole = useDeploys('deploys', channel)
        const total = useDeploys('deploys', channel, (s) => s.total)
        const failed = useDeploys('deploys', channel, (s) => s.failed)
        // The array is kept by the reducer until a deploy fails: a success leaves the ref alone.
        watch(failed, () => failedChanges++)
        useDeployEvent('deploy.finished', (event, context) => (last.value = `${context.channel} ${event.payload.service} ${event.payload.ok ? 'ok' : 'failed'}`))
        pause = usePause('pause')
        return () => h('p', `${JSON.stringify(whole.value)} | ${total.value} | ${failed.value.join(',') || 'none'} | ${last.value}`)
      },
    })

    gateway.publish('deploys:prod', { type: 'deploy.finished', payload: { service: 'api', ok: false } })
    wrapper = mount(Deploys, { global: { plugins: [[agentwire, { url: gateway.url, WebSocket: gateway.WebSocket, events, commands, schedule: (notify: () => void) => notify() }]] } })
    await subscribed('deploys:prod')
    // The event before the subscription came in the state frame's reducer states, not as an event.
    await eventually(() => expect(wrapper!.text()).toBe('{"total":1,"failed":["api"]} | 1 | api | nothing yet'))
    const changes = failedChanges

    gateway.publish('deploys:prod', { type: 'deploy.finished', payload: { service: 'web', ok: true } })
    await eventually(() => expect(wrapper!.text()).toBe('{"total":2,"failed":["api"]} | 2 | api | deploys:prod web ok'))
    expect(failedChanges).toBe(changes)

    await expect(pause({ agent: 'planner' })).resolves.toEqual({ paused: 'planner' })
    expect(gateway.received.filter((f) => f.type === 'command')).toMatchObject([{ name: 'pause', payload: { agent: 'planner' } }])

    // Another channel: the ref moves the subscription and shows that channel's own state.
    gateway.publish('deploys:staging', { type: 'deploy.finished', payload: { service: 'db', ok: false } })
    channel.value = 'deploys:staging'
    await subscribed('deploys:staging')
    await eventually(() => expect(wrapper!.text()).toBe('{"total":1,"failed":["db"]} | 1 | db | deploys:prod web ok'))
    await gateway.waitFor((f) => f.type === 'unsubscribe' && f.channels.includes('deploys:prod'))
  })
})

const FIXTURE = `import * as z from 'zod'
import { ref } from 'vue'
import { defineCommands, defineEvents } from 'agentwire/protocol'
import { useCommand, useEvent, useReduced, type ReadonlyRef } from 'agentwire/vue'

const events = defineEvents({ 'deploy.finished': z.object({ service: z.string(), ok: z.boolean() }) })
  .reducer('deploys', { initial: { total: 0 }, reduce: (s, e) => (e.type === 'deploy.finished' ? { total: s.total + 1 } : s) })
const commands = defineCommands({ pause: { payload: z.object({ agent: z.string() }), result: z.object({ paused: z.string() }) } })

declare module 'agentwire' {
  interface Register { events: typeof events; commands: typeof commands }
}

export function setup(): ReadonlyRef<number> {
  useEvent('deploy.finished', (event, context) => {
    const service: string = event.payload.service
    const ok: boolean = event.payload.ok
    void [service, ok, context.channel]
  })
  useEvent('agent.status', (event) => void (event.payload.status satisfies string))
  // @ts-expect-error: not a type of the application's nor a built-in one
  useEvent('deploy.started', () => {})
  // @ts-expect-error: the payload has no such field
  useEvent('deploy.finished', (event) => event.payload.missing)
  const state: ReadonlyRef<{ total: number }> = useReduced('deploys', 'deploys:prod')
  const maybe: ReadonlyRef<{ total: number } | undefined> = useReduced('deploys', ref<string | null>(null))
  void [state, maybe]
  // @ts-expect-error: no reducer of that name
  useReduced('builds', 'deploys:prod')
  const pause = useCommand('pause')
  void pause({ agent: 'planner' }).then((r) => r.paused satisfies string)
  // @ts-expect-error: agent is a string
  void pause({ agent: 1 })
  return useReduced('deploys', () => 'deploys:prod', (s) => s.total)
}
`

describe('typing through Register', () => {
  it('types the composables with the events, reducers and commands an app registers on agentwire', async () => {
    // A program of its own: slow on a loaded machine, hence the long timeout.
    const { code, output } = await typecheckFile('vue', 'setup.ts', FIXTURE)
    expect(output).toBe('')
    expect(code).toBe(0)
  }, 300_000)
})
