// @vitest-environment happy-dom
/**
 * The application's own events, reducers and commands in React: a component on the mock
 * gateway, and a type check of the hooks through `Register` (in a program of its own, since
 * augmenting `Register` types the whole program).
 */
import { memo, useState } from 'react'
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react'
import * as z from 'zod'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { EventHandler } from 'agentwire'
import { defineCommands, defineEvents, type CommandPayload, type CommandResult, type KnownEventType, type ReducedStates } from 'agentwire/protocol'
import { AgentwireProvider, useCommand, useEvent, useReduced } from 'agentwire/react'
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

// This program registers nothing (the check at the end does): the hooks, typed as `Register` would type them.
type E = typeof events
type C = typeof commands
type Deploys = ReducedStates<E>['deploys']
const useDeployEvent = useEvent as unknown as <T extends KnownEventType<E>>(type: T, handler: EventHandler<T, E>) => void
const useDeploys = useReduced as unknown as {
  (name: 'deploys', channel: string): Deploys
  <T>(name: 'deploys', channel: string, selector: (state: Deploys) => T): T
}
const usePause = useCommand as unknown as (name: 'pause') => (payload: CommandPayload<C, 'pause'>) => Promise<CommandResult<C, 'pause'>>

let gateway: MockGateway<E>
const renders = { failed: 0 }

beforeEach(() => {
  renders.failed = 0
  gateway = createMockGateway({ events, commands, onCommand: (command) => ({ paused: (command.payload as { agent: string }).agent }) })
})
afterEach(() => {
  cleanup()
  gateway.close()
})

function Total({ channel }: { channel: string }) {
  const total = useDeploys('deploys', channel, (s) => s.total)
  return <output aria-label="total">{total}</output>
}

// Memoized, so that only its own hook re-renders it: the reducer keeps the array until a deploy
// fails, so a success renders nothing here.
const Failed = memo(function Failed({ channel }: { channel: string }) {
  const failed = useDeploys('deploys', channel, (s) => s.failed)
  renders.failed++
  return <output aria-label="failed">{failed.join(',') || 'none'}</output>
})

function Deploys({ channel }: { channel: string }) {
  const [last, setLast] = useState('nothing yet')
  const [reply, setReply] = useState('')
  const whole = useDeploys('deploys', channel)
  useDeployEvent('deploy.finished', (event, context) => setLast(`${context.channel} ${event.payload.service} ${event.payload.ok ? 'ok' : 'failed'}`))
  const pause = usePause('pause')
  return (
    <section>
      <Total channel={channel} />
      <Failed channel={channel} />
      <output aria-label="whole">{JSON.stringify(whole)}</output>
      <output aria-label="last">{last}</output>
      <button onClick={() => void pause({ agent: 'planner' }).then((r) => setReply(`paused ${r.paused}`))}>pause</button>
      <output aria-label="reply">{reply}</output>
    </section>
  )
}

const subscribed = (channel: string) =>
  gateway.waitFor(
    (f) => (f.type === 'subscribe' && f.channels.some((c) => c.channel === channel)) || (f.type === 'hello' && (f.resume ?? []).some((c) => c.channel === channel)),
  )
const text = (label: string) => screen.getByLabelText(label).textContent

describe('useEvent, useReduced and useCommand with the application’s definitions', () => {
  it('hears a user event typed, shows the reducer’s state from the snapshot and live, and answers a command', async () => {
    gateway.publish('deploys:prod', { type: 'deploy.finished', payload: { service: 'api', ok: false } })
    const view = render(
      <AgentwireProvider options={{ url: gateway.url, WebSocket: gateway.WebSocket, events, commands }} schedule={(notify) => notify()}>
        <Deploys channel="deploys:prod" />
      </AgentwireProvider>,
    )
    await subscribed('deploys:prod')
    // The event before the subscription came in the state frame's reducer states, not as an event.
    await screen.findByText('{"total":1,"failed":["api"]}')
    expect(text('total')).toBe('1')
    expect(text('failed')).toBe('api')
    expect(text('last')).toBe('nothing yet')

    act(() => void gateway.publish('deploys:prod', { type: 'deploy.finished', payload: { service: 'web', ok: true } }))
    await screen.findByText('deploys:prod web ok')
    expect(text('total')).toBe('2')
    // The failed list did not change: its component did not render again.
    const failedRenders = renders.failed
    act(() => void gateway.publish('deploys:prod', { type: 'deploy.finished', payload: { service: 'db', ok: true } }))
    await screen.findByText('deploys:prod db ok')
    expect(text('total')).toBe('3')
    expect(renders.failed).toBe(failedRenders)

    fireEvent.click(screen.getByText('pause'))
    await screen.findByText('paused planner')
    expect(gateway.received.filter((f) => f.type === 'command')).toMatchObject([{ name: 'pause', payload: { agent: 'planner' } }])

    // Another channel: the hooks follow it, and show its own state.
    gateway.publish('deploys:staging', { type: 'deploy.finished', payload: { service: 'web', ok: false } })
    view.rerender(
      <AgentwireProvider options={{ url: gateway.url, WebSocket: gateway.WebSocket, events, commands }} schedule={(notify) => notify()}>
        <Deploys channel="deploys:staging" />
      </AgentwireProvider>,
    )
    await screen.findByText('{"total":1,"failed":["web"]}')
    expect(text('failed')).toBe('web')
  })
})

const FIXTURE = `import * as z from 'zod'
import { defineCommands, defineEvents } from 'agentwire/protocol'
import { useCommand, useEvent, useReduced } from 'agentwire/react'

const events = defineEvents({ 'deploy.finished': z.object({ service: z.string(), ok: z.boolean() }) })
  .reducer('deploys', { initial: { total: 0 }, reduce: (s, e) => (e.type === 'deploy.finished' ? { total: s.total + 1 } : s) })
const commands = defineCommands({ pause: { payload: z.object({ agent: z.string() }), result: z.object({ paused: z.string() }) } })

declare module 'agentwire' {
  interface Register { events: typeof events; commands: typeof commands }
}

export function Deploys(): string {
  useEvent('deploy.finished', (event, context) => {
    const service: string = event.payload.service
    const ok: boolean = event.payload.ok
    void [service, ok, context.channel]
  })
  useEvent('agent.status', (event) => void (event.payload.status satisfies string))
  useEvent('event', (event) => void event.type)
  // @ts-expect-error: not a type of the application's nor a built-in one
  useEvent('deploy.started', () => {})
  // @ts-expect-error: the payload has no such field
  useEvent('deploy.finished', (event) => event.payload.missing)
  const total: number = useReduced('deploys', 'deploys:prod', (s) => s.total)
  const state: { total: number } = useReduced('deploys', 'deploys:prod')
  const maybe: { total: number } | undefined = useReduced('deploys', null)
  // @ts-expect-error: no reducer of that name
  useReduced('builds', 'deploys:prod')
  const pause = useCommand('pause')
  void pause({ agent: 'planner' }).then((r) => r.paused satisfies string)
  // @ts-expect-error: agent is a string
  void pause({ agent: 1 })
  // @ts-expect-error: no such command
  useCommand('reboot')
  return String(total + state.total + (maybe?.total ?? 0))
}
`

describe('typing through Register', () => {
  it('types the hooks with the events, reducers and commands an app registers on agentwire', async () => {
    // A program of its own: slow on a loaded machine, hence the long timeout.
    const { code, output } = await typecheckFile('react', 'deploys.tsx', FIXTURE)
    expect(output).toBe('')
    expect(code).toBe(0)
  }, 300_000)
})
