// @vitest-environment happy-dom
import { StrictMode, useState } from 'react'
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createClient, type Client } from 'agentwire'
import { AgentwireProvider, useAgentStatus, useAgents, useChannel, useClient, useConnectionState, useEvent, useRequest, useSession, useTask } from 'agentwire/react'
import { createMockGateway, type MockGateway } from 'agentwire/testing'
import { agentStatus, countingWebSocket, taskProgress, wireCounts } from '../support/adapters'

let gateway: MockGateway
const clients: Client[] = []

beforeEach(() => {
  gateway = createMockGateway()
})
afterEach(() => {
  cleanup()
  for (const c of clients.splice(0)) c.close()
  gateway.close()
  vi.unstubAllGlobals()
  vi.useRealTimers()
})

function connect(): Client {
  const client = createClient({ url: gateway.url, WebSocket: gateway.WebSocket })
  clients.push(client)
  return client
}

/** A client frame sent after everything before it: frames arrive in order, so once it is here nothing earlier is still on its way. */
async function barrier(client: Client): Promise<void> {
  const after = gateway.received.length
  client.ack('global', 0)
  await gateway.waitFor((f) => f.type === 'ack', { after })
}

describe('render counts', () => {
  it('re-renders only the one agent component whose agent changed, among 1,000 on screen', async () => {
    const renders = new Map<string, number>()
    let fleetRenders = 0
    function Agent({ name }: { name: string }) {
      const agent = useAgentStatus(name)
      renders.set(name, (renders.get(name) ?? 0) + 1)
      return <li data-testid={name}>{agent?.status ?? '…'}</li>
    }
    function Fleet() {
      const names = useAgents((agents) => Object.keys(agents))
      fleetRenders++
      return <ul>{names.map((n) => <Agent key={n} name={n} />)}</ul>
    }
    for (let i = 0; i < 1000; i++) gateway.publish(`agent:a${i}`, agentStatus(`a${i}`, 'available'))
    const client = connect()
    // The page follows every agent for as long as the test runs, as a dashboard's shell would.
    const page = client.subscribe('agent:*')
    render(<AgentwireProvider client={client}><Fleet /></AgentwireProvider>)

    await waitFor(() => expect(screen.getAllByRole('listitem')).toHaveLength(1000), { timeout: 100_000 })
    await waitFor(() => expect(screen.getByTestId('a999').textContent).toBe('available'))
    // Every per-agent subscription is on the wire and answered before counting starts.
    await waitFor(() => expect(wireCounts(gateway.received).subscribed.size).toBe(1001), { timeout: 100_000 })
    await barrier(client)
    renders.clear()
    fleetRenders = 0

    act(() => {
      gateway.publish('agent:a500', agentStatus('a500', 'busy', 0.7))
    })
    await waitFor(() => expect(screen.getByTestId('a500').textContent).toBe('busy'))

    expect([...renders]).toEqual([['a500', 1]])
    expect(fleetRenders).toBe(0)
    cleanup()
    page.unsubscribe()
  }, 180_000)
})

describe('coalesced renders under a flood (L1)', () => {
  /**
   * Fake timers, a client subscribed to `agent:flood` through a component that counts its renders,
   * and `flood(n)`: n events, one socket message per 1 ms turn, as a flood arrives. (The fake
   * clock's requestAnimationFrame runs every 16 ms.)
   */
  async function setup(schedule?: (notify: () => void) => void) {
    vi.useFakeTimers()
    const client = connect()
    let renders = 0
    function Flood() {
      renders++
      return <p data-testid="load">{useAgentStatus('flood')?.load ?? 'none'}</p>
    }
    render(<AgentwireProvider client={client} schedule={schedule}><Flood /></AgentwireProvider>)
    // open (4 ms), hello and welcome, then the subscribe and its reply.
    await act(() => vi.advanceTimersByTimeAsync(40))
    expect(wireCounts(gateway.received).subscribed.get('agent:flood')).toBe(1)
    return {
      client,
      renders: () => renders,
      async flood(n: number) {
        renders = 0
        for (let i = 1; i <= n; i++) {
          gateway.publish('agent:flood', agentStatus('flood', 'busy', i))
          await act(() => vi.advanceTimersByTimeAsync(1))
        }
        // The last frame.
        await act(() => vi.advanceTimersByTimeAsync(20))
      },
    }
  }

  it('re-renders at most once per animation frame, with the latest event', async () => {
    const { renders, flood } = await setup()
    const frames = vi.spyOn(globalThis, 'requestAnimationFrame')
    await flood(160)

    expect(screen.getByTestId('load').textContent).toBe('160')
    // 180 ms of fake time hold 11 or 12 frames: one render each, not 160.
    expect(renders()).toBeGreaterThanOrEqual(10)
    expect(renders()).toBeLessThanOrEqual(12)
    expect(frames.mock.calls.length).toBe(renders())
  })

  it('falls back to a ~1/60 s timer where there is no requestAnimationFrame (Node, jsdom)', async () => {
    const { renders, flood } = await setup()
    vi.stubGlobal('requestAnimationFrame', undefined)
    await flood(170)

    expect(screen.getByTestId('load').textContent).toBe('170')
    // One render per 17 ms timer: 190 ms hold 11 of them.
    expect(renders()).toBeGreaterThanOrEqual(10)
    expect(renders()).toBeLessThanOrEqual(12)

    // One event: it shows 17 ms after it arrived, not sooner.
    const before = renders()
    gateway.publish('agent:flood', agentStatus('flood', 'busy', 171))
    await act(() => vi.advanceTimersByTimeAsync(16))
    expect(renders()).toBe(before)
    await act(() => vi.advanceTimersByTimeAsync(1))
    expect(renders()).toBe(before + 1)
    expect(screen.getByTestId('load').textContent).toBe('171')
  })

  it('re-renders after every batch of events with schedule={(notify) => notify()}', async () => {
    const { renders, flood } = await setup((notify) => notify())
    await flood(50)

    expect(screen.getByTestId('load').textContent).toBe('50')
    expect(renders()).toBe(50)
  })

  it('shows the latest state when something else re-renders the component before the frame', async () => {
    vi.useFakeTimers()
    const client = connect()
    function Flood() {
      const [clicks, setClicks] = useState(0)
      const agent = useAgentStatus('flood')
      return <button onClick={() => setClicks(clicks + 1)}>{`${clicks} ${agent?.load ?? 'none'}`}</button>
    }
    render(<AgentwireProvider client={client}><Flood /></AgentwireProvider>)
    await act(() => vi.advanceTimersByTimeAsync(40))
    gateway.publish('agent:flood', agentStatus('flood', 'busy', 1))
    await act(() => vi.advanceTimersByTimeAsync(20))
    expect(screen.getByRole('button').textContent).toBe('0 1')

    // The event is in the store; the frame that tells the hooks is still ahead.
    gateway.publish('agent:flood', agentStatus('flood', 'busy', 2))
    await act(() => vi.advanceTimersByTimeAsync(0))
    expect(client.getSnapshot().agents.flood?.load).toBe(2)
    fireEvent.click(screen.getByRole('button'))

    expect(screen.getByRole('button').textContent).toBe('1 2')
  })

  it('shares one store subscription among the components of a provider, and drops it after the last', async () => {
    vi.useFakeTimers()
    const client = connect()
    const subscribeStore = client.subscribeStore.bind(client)
    let live = 0
    client.subscribeStore = (listener) => {
      live++
      const off = subscribeStore(listener)
      return () => {
        live--
        off()
      }
    }
    function Agent({ name }: { name: string }) {
      return <li>{useAgentStatus(name)?.status ?? '…'}</li>
    }
    const view = render(
      <AgentwireProvider client={client}>
        <ul>{['a', 'b', 'c'].map((n) => <Agent key={n} name={n} />)}</ul>
      </AgentwireProvider>,
    )
    await act(() => vi.advanceTimersByTimeAsync(40))
    expect(live).toBe(1)

    view.unmount()
    await act(() => vi.advanceTimersByTimeAsync(20))
    expect(live).toBe(0)
  })
})

describe('StrictMode (C1)', () => {
  it('opens one socket and subscribes each of three channels once, with no duplicate event delivery', async () => {
    const sockets = countingWebSocket(gateway.WebSocket)
    let client!: Client
    const seen: number[] = []
    function Probe() {
      client = useClient()
      useChannel('agent:planner')
      useTask('t1')
      useSession('s1')
      useEvent('task.progress', (event) => seen.push(event.payload.progress))
      return <p>{useConnectionState()}</p>
    }
    render(
      <StrictMode>
        <AgentwireProvider options={{ url: gateway.url, WebSocket: sockets.WebSocket }}>
          <Probe />
        </AgentwireProvider>
      </StrictMode>,
    )
    await screen.findByText('open')
    await waitFor(() => expect(wireCounts(gateway.received).subscribed.size).toBe(3))
    act(() => {
      gateway.publish('task:t1', taskProgress('t1', 40))
    })
    await barrier(client)

    const { subscribed, unsubscribed } = wireCounts(gateway.received)
    expect(sockets.opened).toBe(1)
    expect(gateway.connections).toHaveLength(1)
    expect(Object.fromEntries(subscribed)).toEqual({ 'agent:planner': 1, 'task:t1': 1, 'session:s1': 1 })
    expect(unsubscribed.size).toBe(0)
    expect(seen).toEqual([40])
  })
})

describe('unmount during connecting (C2)', () => {
  it('leaves no socket, no timer and no state update when unmounted before the socket opened', async () => {
    vi.useFakeTimers()
    const errors = vi.spyOn(console, 'error')
    const sockets = countingWebSocket(gateway.WebSocket)
    let renders = 0
    function Status() {
      renders++
      return <p>{useConnectionState()}</p>
    }
    const view = render(
      <AgentwireProvider options={{ url: gateway.url, WebSocket: sockets.WebSocket }}>
        <Status />
      </AgentwireProvider>,
    )
    expect(sockets.opened).toBe(1)
    const before = renders
    view.unmount()
    // mock-socket delivers opens and closes 4 ms later; let those run out.
    await act(() => vi.advanceTimersByTimeAsync(20))

    expect(vi.getTimerCount()).toBe(0)
    expect(gateway.connections).toHaveLength(0)
    expect(renders).toBe(before)
    expect(errors).not.toHaveBeenCalled()
  })

  it('leaves nothing behind when unmounted while a subscribe reply is pending', async () => {
    vi.useFakeTimers()
    const errors = vi.spyOn(console, 'error')
    function Agent() {
      return <p>{useAgentStatus('planner')?.status ?? 'none'}</p>
    }
    const view = render(
      <AgentwireProvider options={{ url: gateway.url, WebSocket: gateway.WebSocket }}>
        <Agent />
      </AgentwireProvider>,
    )
    // open (4 ms), hello reaches the mock (4 ms) and is welcomed; the subscribe is on its way.
    await act(() => vi.advanceTimersByTimeAsync(8))
    expect(gateway.connections).toHaveLength(1)
    view.unmount()
    await act(() => vi.advanceTimersByTimeAsync(40))

    expect(vi.getTimerCount()).toBe(0)
    expect(gateway.connections).toHaveLength(0)
    expect(errors).not.toHaveBeenCalled()
  })
})

describe('useEvent', () => {
  it('calls the handler of the latest render without subscribing again', async () => {
    const client = connect()
    const on = vi.spyOn(client, 'on')
    const calls: string[] = []
    function Listener({ label }: { label: string }) {
      useEvent('task.progress', (event) => calls.push(`${label}:${event.payload.progress}`))
      useChannel('task:t1')
      return null
    }
    const view = render(<AgentwireProvider client={client}><Listener label="first" /></AgentwireProvider>)
    await waitFor(() => expect(wireCounts(gateway.received).subscribed.get('task:t1')).toBe(1))
    act(() => {
      gateway.publish('task:t1', taskProgress('t1', 10))
    })
    view.rerender(<AgentwireProvider client={client}><Listener label="second" /></AgentwireProvider>)
    act(() => {
      gateway.publish('task:t1', taskProgress('t1', 20))
    })
    await waitFor(() => expect(calls).toEqual(['first:10', 'second:20']))
    expect(on.mock.calls.filter(([type]) => type === 'task.progress')).toHaveLength(1)
  })
})

describe('useRequest', () => {
  it('shows the question and sends cancel and feedback for its request', async () => {
    const client = connect()
    function Request() {
      const { state, cancel, feedback } = useRequest('r1')
      const [sent, setSent] = useState('')
      const question = state?.questions[0]
      return (
        <div>
          <p>{question?.question ?? 'no question'}</p>
          <button onClick={() => void feedback('q1', 'yes').then(() => setSent('answered'))}>answer</button>
          <button onClick={() => void cancel('user').then(() => setSent('cancelled'))}>cancel</button>
          <span>{sent}</span>
        </div>
      )
    }
    render(<AgentwireProvider client={client}><Request /></AgentwireProvider>)
    await waitFor(() => expect(wireCounts(gateway.received).subscribed.get('request:r1')).toBe(1))
    act(() => {
      gateway.publish('request:r1', { type: 'request.started', payload: { requestId: 'r1', query: 'plan a trip' } })
      gateway.publish('request:r1', { type: 'request.question', payload: { requestId: 'r1', questionId: 'q1', question: 'Book the hotel?' } })
    })
    await screen.findByText('Book the hotel?')

    fireEvent.click(screen.getByText('answer'))
    expect(await gateway.waitFor((f) => f.type === 'feedback')).toMatchObject({ requestId: 'r1', questionId: 'q1', answer: 'yes' })
    await screen.findByText('answered')
    fireEvent.click(screen.getByText('cancel'))
    expect(await gateway.waitFor((f) => f.type === 'cancel')).toMatchObject({ requestId: 'r1', reason: 'user' })
    await screen.findByText('cancelled')
  })
})
