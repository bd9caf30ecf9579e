import { renderToString } from 'react-dom/server'
import { afterEach, expect, it } from 'vitest'
import { AgentwireProvider, useAgentStatus, useConnectionState, useTask } from 'agentwire/react'
import { createMockGateway } from 'agentwire/testing'
import { countingWebSocket } from '../support/adapters'

const gateway = createMockGateway()
afterEach(() => gateway.close())

it('renders on the server without opening a socket', () => {
  const sockets = countingWebSocket(gateway.WebSocket)
  function Page() {
    const state = useConnectionState()
    const agent = useAgentStatus('planner')
    const task = useTask('t1')
    return <p>{`${state} ${agent?.status ?? 'unknown'} ${task?.progress ?? 0}%`}</p>
  }
  const html = renderToString(
    <AgentwireProvider options={{ url: gateway.url, WebSocket: sockets.WebSocket }}>
      <Page />
    </AgentwireProvider>,
  )
  expect(html).toBe('<p>idle unknown 0%</p>')
  expect(sockets.opened).toBe(0)
  expect(gateway.connections).toHaveLength(0)
})
