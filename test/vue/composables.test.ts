// @vitest-environment happy-dom
import { createApp, defineComponent, effectScope, h, nextTick, ref, type App } from 'vue'
import { mount } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createClient, type Client } from 'agentwire'
import { agentwire, provideAgentwire, useAgentStatus, useAgents, useConnectionState, useEvent, useRequest, useTask } from 'agentwire/vue'
import { createMockGateway, type MockGateway } from 'agentwire/testing'
import { agentStatus, countingWebSocket, taskProgress, wireCounts } from '../support/adapters'

let gateway: MockGateway
let client: Client

beforeEach(() => {
  gateway = createMockGateway()
  client = createClient({ url: gateway.url, WebSocket: gateway.WebSocket })
})
afterEach(() => {
  client.close()
  gateway.close()
  vi.useRealTimers()
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

async function barrier(): Promise<void> {
  const after = gateway.received.length
  client.ack('global', 0)
  await gateway.waitFor((f) => f.type === 'ack', { after })
}

/** Runs composables in an effect scope with the app's client injectable, as a component's setup would. */
function inScope<T>(fn: () => T): { value: T; stop: () => void; app: App } {
  const app = createApp({}).use(agentwire, { client })
  const scope = effectScope()
  const value = app.runWithContext(() => scope.run(fn)!)
  return { value, stop: () => scope.stop(), app }
}

describe('render counts', () => {
  it('re-renders only the one agent component whose agent changed, among 1,000 on screen', async () => {
    const renders = new Map<string, number>()
    let fleetRenders = 0
    const Agent = defineComponent({
      props: { name: { type: String, required: true } },
      setup(props) {
        const agent = useAgentStatus(() => props.name)
        return () => {
          renders.set(props.name, (renders.get(props.name) ?? 0) + 1)
          return h('li', { 'data-name': props.name }, agent.value?.status ?? '…')
        }
      },
    })
    const Fleet = defineComponent({
      setup() {
        const names = useAgents((agents) => Object.keys(agents))
        return () => {
          fleetRenders++
          return h('ul', names.value.map((n) => h(Agent, { key: n, name: n })))
        }
      },
    })
    for (let i = 0; i < 1000; i++) gateway.publish(`agent:a${i}`, agentStatus(`a${i}`, 'available'))
    // The page follows every agent for as long as the test runs, as a dashboard's shell would.
    const page = client.subscribe('agent:*')
    const wrapper = mount(Fleet, { global: { plugins: [[agentwire, { client }]] } })

    await eventually(() => expect(wrapper.findAll('li')).toHaveLength(1000), 100_000)
    await eventually(() => expect(wireCounts(gateway.received).subscribed.size).toBe(1001), 100_000)
    await barrier()
    await nextTick()
    expect(wrapper.find('[data-name="a999"]').text()).toBe('available')
    renders.clear()
    fleetRenders = 0

    gateway.publish('agent:a500', agentStatus('a500', 'busy', 0.7))
    await eventually(() => expect(wrapper.find('[data-name="a500"]').text()).toBe('busy'))
    await nextTick()

    expect([...renders]).toEqual([['a500', 1]])
    expect(fleetRenders).toBe(0)
    wrapper.unmount()
    page.unsubscribe()
  }, 180_000)
})

describe('coalesced renders under a flood (L1)', () => {
  /**
   * Fake timers, a component following agent `flood` that counts its renders, and `flood(n)`:
   * n events, one socket message per 1 ms turn, as a flood arrives. (The fake clock's
   * requestAnimationFrame runs every 16 ms.)
   */
  async function setup(schedule?: (notify: () => void) => void) {
    client.close()
    vi.useFakeTimers()
    client = createClient({ url: gateway.url, WebSocket: gateway.WebSocket })
    let renders = 0
    const Flood = defineComponent({
      setup() {
        const agent = useAgentStatus('flood')
        return () => {
          renders++
          return h('p', String(agent.value?.load ?? 'none'))
        }
      },
    })
    const wrapper = mount(Flood, { global: { plugins: [[agentwire, { client, ...(schedule ? { schedule } : {}) }]] } })
    // open (4 ms), hello and welcome, then the subscribe and its reply.
    await vi.advanceTimersByTimeAsync(40)
    expect(wireCounts(gateway.received).subscribed.get('agent:flood')).toBe(1)
    return {
      wrapper,
      renders: () => renders,
      async flood(n: number) {
        renders = 0
        for (let i = 1; i <= n; i++) {
          gateway.publish('agent:flood', agentStatus('flood', 'busy', i))
          await vi.advanceTimersByTimeAsync(1)
        }
        // The last frame.
        await vi.advanceTimersByTimeAsync(20)
      },
    }
  }

  it('re-renders at most once per animation frame, with the latest event', async () => {
    const { wrapper, renders, flood } = await setup()
    const frames = vi.spyOn(globalThis, 'requestAnimationFrame')
    await flood(160)

    expect(wrapper.text()).toBe('160')
    // 180 ms of fake time hold 11 or 12 frames: one render each, not 160.
    expect(renders()).toBeGreaterThanOrEqual(10)
    expect(renders()).toBeLessThanOrEqual(12)
    expect(frames.mock.calls.length).toBe(renders())
    wrapper.unmount()
  })

  it('follows every batch of events with schedule: (notify) => notify()', async () => {
    const { wrapper, renders, flood } = await setup((notify) => notify())
    await flood(50)

    expect(wrapper.text()).toBe('50')
    expect(renders()).toBe(50)
    wrapper.unmount()
  })
})

describe('ids as refs', () => {
  it('moves the subscription when the id changes, and shows the new entity', async () => {
    gateway.publish('task:t1', taskProgress('t1', 10))
    gateway.publish('task:t2', taskProgress('t2', 75))
    const id = ref('t1')
    const { value: task, stop } = inScope(() => useTask(id))
    await eventually(() => expect(task.value?.progress).toBe(10))

    id.value = 't2'
    await eventually(() => expect(task.value?.progress).toBe(75))
    await barrier()

    const { subscribed, unsubscribed } = wireCounts(gateway.received)
    expect(subscribed.get('task:t1')).toBe(1)
    expect(subscribed.get('task:t2')).toBe(1)
    expect(unsubscribed.get('task:t1')).toBe(1)
    expect(unsubscribed.get('task:t2')).toBeUndefined()
    stop()
  })
})

describe('cleanup', () => {
  it('unsubscribes and stops updating when the scope is disposed', async () => {
    // Another part of the app keeps following every agent, so the store itself goes on changing.
    client.subscribe('agent:*')
    const { value, stop } = inScope(() => ({ agent: useAgentStatus('planner'), state: useConnectionState() }))
    gateway.publish('agent:planner', agentStatus('planner', 'available'))
    await eventually(() => expect(value.agent.value?.status).toBe('available'))
    expect(value.state.value).toBe('open')

    stop()
    await gateway.waitFor((f) => f.type === 'unsubscribe' && f.channels.includes('agent:planner'))
    gateway.publish('agent:planner', agentStatus('planner', 'busy'))
    await eventually(() => expect(client.getSnapshot().agents['planner']?.status).toBe('busy'))
    client.close()

    expect(value.agent.value?.status).toBe('available')
    expect(value.state.value).toBe('open')
  })

  it('closes the client it created, leaving no socket and no timer, when unmounted during connecting (C2)', async () => {
    client.close() // the shared one; this test counts only the timers of the client the component creates
    vi.useFakeTimers()
    const sockets = countingWebSocket(gateway.WebSocket)
    const Status = defineComponent({
      setup() {
        const state = useConnectionState()
        return () => h('p', state.value)
      },
    })
    const Root = defineComponent({
      setup() {
        provideAgentwire({ url: gateway.url, WebSocket: sockets.WebSocket })
        return () => h(Status)
      },
    })
    const wrapper = mount(Root)
    expect(sockets.opened).toBe(1)
    wrapper.unmount()
    await vi.advanceTimersByTimeAsync(20)

    expect(vi.getTimerCount()).toBe(0)
    expect(gateway.connections).toHaveLength(0)
  })

  it('warns in development when a composable is used outside a scope', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const app = createApp({}).use(agentwire, { client })
    app.runWithContext(() => useTask('t1'))
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('useTask() was called outside setup() or an effectScope'))
  })
})

describe('events and commands', () => {
  it('delivers each event once to useEvent and sends the request commands', async () => {
    const seen: number[] = []
    const { value: request, stop } = inScope(() => {
      useEvent('task.progress', (event) => seen.push(event.payload.progress))
      useTask('t1')
      return useRequest('r1')
    })
    await eventually(() => expect(wireCounts(gateway.received).subscribed.get('request:r1')).toBe(1))
    gateway.publish('task:t1', taskProgress('t1', 30))
    gateway.publish('request:r1', { type: 'request.question', payload: { requestId: 'r1', questionId: 'q1', question: 'Proceed?' } })
    await eventually(() => expect(request.state.value?.questions[0]?.question).toBe('Proceed?'))

    await request.feedback('q1', 'yes')
    await request.cancel('done')
    expect(gateway.received.find((f) => f.type === 'feedback')).toMatchObject({ requestId: 'r1', questionId: 'q1', answer: 'yes' })
    expect(gateway.received.find((f) => f.type === 'cancel')).toMatchObject({ requestId: 'r1', reason: 'done' })
    expect(seen).toEqual([30])
    stop()
  })
})
