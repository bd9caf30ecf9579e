// @vitest-environment happy-dom
import { act, cleanup, render, screen, waitFor } from '@testing-library/react'
import { effectScope } from 'vue'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createClient, type Client } from 'agentwire'
import type { AgentEvent, MessageView } from 'agentwire/protocol'
import { AgentwireProvider, useMessages } from 'agentwire/react'
import { agentwire, useMessages as useVueMessages } from 'agentwire/vue'
import { createApp } from 'vue'
import { createMockGateway, type MockGateway } from 'agentwire/testing'
import { wireCounts } from './support/adapters'

/** `useMessages(requestId)` in React and Vue: the request's transcript, re-read only when it changes. */

let gateway: MockGateway
let client: Client
beforeEach(() => {
  gateway = createMockGateway()
  client = createClient({ url: gateway.url, WebSocket: gateway.WebSocket })
})
afterEach(() => {
  cleanup()
  client.close()
  gateway.close()
})

const ev = (e: AgentEvent) => gateway.publish('request:r1', e)
const render1 = (t: readonly MessageView[]) => t.map((m) => (m.kind === 'text' ? `${m.role}:${m.text}` : `${m.name}(${m.args})`)).join('|')

describe('useMessages', () => {
  it('React: renders the text as it streams, and not for the request’s other changes', async () => {
    let renders = 0
    function Transcript() {
      const t = useMessages('r1')
      renders++
      return <p data-testid="t">{render1(t)}</p>
    }
    render(
      <AgentwireProvider client={client}>
        <Transcript />
      </AgentwireProvider>,
    )
    await waitFor(() => expect(wireCounts(gateway.received).subscribed.get('request:r1')).toBe(1))
    await act(async () => {
      ev({ type: 'message.started', payload: { requestId: 'r1', messageId: 'm1', role: 'assistant' } })
      ev({ type: 'message.delta', payload: { requestId: 'r1', messageId: 'm1', delta: 'Hi ' } })
      ev({ type: 'message.delta', payload: { requestId: 'r1', messageId: 'm1', delta: 'there' } })
      ev({ type: 'tool.call.started', payload: { requestId: 'r1', toolCallId: 'c1', name: 'look' } })
      ev({ type: 'tool.call.args', payload: { requestId: 'r1', toolCallId: 'c1', delta: '{}' } })
    })
    await waitFor(() => expect(screen.getByTestId('t').textContent).toBe('assistant:Hi there|look({})'))
    const before = renders
    await act(async () => {
      ev({ type: 'step.progress', payload: { requestId: 'r1', agent: 'a', step: 1, status: 'running' } })
      await new Promise((r) => setTimeout(r, 50))
    })
    expect(renders).toBe(before)
  })

  it('Vue: the ref follows the transcript', async () => {
    const app = createApp({}).use(agentwire, { client })
    const scope = effectScope()
    const t = app.runWithContext(() => scope.run(() => useVueMessages('r1'))!)
    await waitFor(() => expect(wireCounts(gateway.received).subscribed.get('request:r1')).toBe(1))
    ev({ type: 'message.delta', payload: { requestId: 'r1', messageId: 'm1', delta: 'Hello' } })
    await waitFor(() => expect(render1(t.value)).toBe('assistant:Hello'))
    scope.stop()
  })
})
