// @vitest-environment happy-dom
/**
 * How to test your own component with agentwire's testing kit: a mock gateway in the same
 * process, a real client pointed at it, and events published from the test. The component
 * below is what an app would write; the test never reaches into the client.
 */
import { act, cleanup, render, screen } from '@testing-library/react'
import { afterEach, expect, it } from 'vitest'
import { createClient } from 'agentwire'
import { AgentwireProvider, useConnectionState, useTask } from 'agentwire/react'
import { createMockGateway } from 'agentwire/testing'

// The component under test: a task's progress and the connection's state.
function TaskCard({ id }: { id: string }) {
  const task = useTask(id)
  const connection = useConnectionState()
  return (
    <section>
      <h2>{task?.name ?? id}</h2>
      <progress aria-label="progress" value={task?.progress ?? 0} max={100} />
      <output aria-label="connection">{connection}</output>
    </section>
  )
}

const gateway = createMockGateway()
// Reconnect at once, so the test does not wait out a real backoff.
const client = createClient({ url: gateway.url, WebSocket: gateway.WebSocket, reconnect: { initialDelayMs: 1, maxDelayMs: 2 } })

afterEach(() => {
  cleanup()
  client.close()
  gateway.close()
})

it('follows a task across a dropped connection and a gateway restart', async () => {
  render(
    <AgentwireProvider client={client}>
      <TaskCard id="t1" />
    </AgentwireProvider>,
  )
  // The card subscribed to its task's channel (in a subscribe frame, or in hello.resume when the
  // socket opened after the card mounted): publish as the backend would.
  await gateway.waitFor(
    (frame) =>
      (frame.type === 'subscribe' && frame.channels.some((c) => c.channel === 'task:t1')) ||
      (frame.type === 'hello' && (frame.resume ?? []).some((c) => c.channel === 'task:t1')),
  )
  act(() => {
    gateway.publish('task:t1', { type: 'task.started', payload: { taskId: 't1', name: 'Index the docs' } })
    gateway.publish('task:t1', { type: 'task.progress', payload: { taskId: 't1', progress: 30 } })
  })
  expect(await screen.findByText('Index the docs')).toBeTruthy()
  expect(screen.getByLabelText('progress').getAttribute('value')).toBe('30')

  // The network drops; events published meanwhile are replayed after the reconnect.
  act(() => gateway.drop())
  act(() => {
    gateway.publish('task:t1', { type: 'task.progress', payload: { taskId: 't1', progress: 60 } })
  })
  await screen.findByText('open')
  await waitForValue('60')

  // The gateway restarts and loses its log: the client gets a snapshot (a new epoch).
  act(() => {
    gateway.restart({ replay: false })
    gateway.publish('task:t1', { type: 'task.progress', payload: { taskId: 't1', progress: 90 } })
  })
  await waitForValue('90')
})

async function waitForValue(value: string): Promise<void> {
  await screen.findByText((_, el) => el?.tagName === 'PROGRESS' && el.getAttribute('value') === value)
}
