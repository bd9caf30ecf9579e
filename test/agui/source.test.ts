import { afterEach, describe, expect, it } from 'vitest'
import { HttpAgent } from '@ag-ui/client'
import { createNodeClient, type NodeClient } from 'agentwire/node'
import { createGateway, type Gateway } from 'agentwire/server'
import type { MessageView } from 'agentwire/protocol'
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy'
import { startTestAgent, type TestAgent } from './agent-server'
import { until } from '../server/support/core'

/**
 * The gateway in front of an AG-UI agent (`createGateway({ agui: url })`): the agent's run
 * becomes canonical events on `request:{id}`, and a client whose connection drops in the middle
 * of the message and again in the middle of the tool call's arguments ends with both exactly
 * once, in order, and the shared state the STATE_DELTA built. The same drop on `@ag-ui/client`
 * talking to the agent directly loses the rest of the run: the measured comparison.
 */

const closers: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c()
})


const FULL_TEXT = 'The answer is forty-two.'
const FULL_ARGS = '{"q":"life"}'

describe('the gateway in front of an AG-UI agent', () => {
  it('publishes the run on request:{id}; a client dropped mid-message and mid-arguments gets text and arguments exactly once', async () => {
    const agent = await startTestAgent()
    closers.push(() => agent.close())
    const gateway: Gateway = createGateway({ port: 0, agui: agent.url })
    await gateway.ready
    closers.push(() => gateway.close({ drainMs: 0 }))
    const proxy: FaultProxy = await startFaultProxy({ port: gateway.port })
    closers.push(() => proxy.close())
    const client: NodeClient = createNodeClient({ url: proxy.url('/ws'), reconnect: { initialDelayMs: 10, maxDelayMs: 50 } })
    closers.push(() => client.close())
    const pieces: string[] = []
    client.on('message.delta', (e) => pieces.push(e.payload.delta))
    client.on('tool.call.args', (e) => pieces.push(e.payload.delta))
    await client.ready()

    const run = client.start({ query: 'What is the answer?', requestId: 'r1' })
    await run.accepted
    const transcript = (): readonly MessageView[] => client.getSnapshot().requests.r1?.messages ?? []
    const drop = async () => {
      proxy.setMode('refuse')
      proxy.reset()
      await until(() => client.state !== 'open', () => client.state)
    }
    const restore = async () => {
      proxy.setMode('pass')
      await until(() => client.state === 'open', () => client.state)
    }

    // Mid-message: the client has "The answer is ", then its link goes down and the agent goes on.
    await agent.paused()
    await until(() => (transcript()[0] as { text?: string } | undefined)?.text === 'The answer is ', () => JSON.stringify(transcript()))
    await drop()
    agent.resume()
    await agent.paused() // now mid-arguments, all of it published while the client was away
    await restore()
    await until(() => (transcript()[1] as { args?: string } | undefined)?.args === '{"q":', () => JSON.stringify(transcript()))

    // Mid-arguments: down again, and the run finishes meanwhile.
    await drop()
    agent.resume()
    await restore()
    await expect(run.result).resolves.toEqual({ answer: 42 })

    expect(agent.inputs[0]).toMatchObject({ runId: 'r1', messages: [{ role: 'user', content: 'What is the answer?' }] })
    expect(transcript()).toEqual([
      { kind: 'text', id: 'm1', role: 'assistant', text: FULL_TEXT, status: 'done' },
      { kind: 'tool', id: 'c1', name: 'lookup', parentMessageId: 'm1', args: FULL_ARGS, status: 'done', result: '42', resultMessageId: 't1' },
    ])
    expect(pieces.join('')).toBe(FULL_TEXT + FULL_ARGS)
    const request = client.getSnapshot().requests.r1!
    expect(request.state).toEqual({ count: 1, items: ['life'] })
    expect(request.steps).toMatchObject([{ stepId: 'answer', status: 'completed' }])
    expect(request.status).toBe('completed')
  })

  it('measured: @ag-ui/client alone, dropped at the same point, keeps only the text before the drop, and calls the run finished', async () => {
    const agent = await startTestAgent()
    closers.push(() => agent.close())
    const proxy = await startFaultProxy({ port: Number(new URL(agent.url).port) })
    closers.push(() => proxy.close())
    const direct = new HttpAgent({
      url: `http://${proxy.host}:${proxy.port}/agent`,
      // The body through a stream of ours that ends where the connection was reset.
      fetch: async (url: RequestInfo | URL, init?: RequestInit) => {
        const response = await fetch(url, init)
        const reader = response.body!.getReader()
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            try {
              const { value, done } = await reader.read()
              if (done) controller.close()
              else controller.enqueue(value)
            } catch {
              // Ended, not errored: @ag-ui/client 1.0.0 rethrows a stream's error from its teardown's
              // reader.cancel(), an unhandled rejection (what a browser's fetch error also triggers)
              controller.close()
            }
          },
          cancel: (reason) => reader.cancel(reason).catch(() => undefined),
        })
        return new Response(body, { status: response.status, headers: response.headers })
      },
    })
    direct.addMessage({ id: 'q', role: 'user', content: 'What is the answer?' })
    const outcome = direct.runAgent({ runId: 'r1' }).then(
      () => 'finished',
      (error: unknown) => `failed: ${error instanceof Error ? error.message : String(error)}`,
    )
    await agent.paused()
    await until(() => direct.messages.some((m) => m.id === 'm1' && m.content === 'The answer is '), () => JSON.stringify(direct.messages))
    proxy.setMode('refuse')
    proxy.reset()
    agent.resume()
    agent.resume()
    const result = await outcome
    const text = String(direct.messages.find((m) => m.id === 'm1')?.content ?? '')
    // AG-UI events carry no position and HttpAgent does not reconnect: what came after the drop is
    // gone, and a stream cut short without RUN_FINISHED even reads as a finished run.
    expect(result).toBe('finished')
    expect(text).toBe('The answer is ')
    expect(direct.messages.some((m) => m.role === 'tool')).toBe(false)
    console.info(`AG-UI alone, dropped mid-message: ${text.length}/${FULL_TEXT.length} characters of the text, 0/${FULL_ARGS.length} of the arguments, run ${result}`)
  })

  it('an agent that fails (HTTP 500, or a stream cut before RUN_FINISHED) ends the request as request.error, with what it said kept', async () => {
    const { createServer } = await import('node:http')
    let mode: 'http500' | 'cut' = 'http500'
    const server = createServer((_req, res) => {
      if (mode === 'http500') return void res.writeHead(500).end('boom')
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write('data: {"type":"RUN_STARTED","threadId":"t","runId":"r"}\n\n')
      res.write('data: {"type":"TEXT_MESSAGE_START","messageId":"m1","role":"assistant"}\n\n')
      res.end('data: {"type":"TEXT_MESSAGE_CONTENT","messageId":"m1","delta":"half"}\n\n')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const gateway = createGateway({ port: 0, agui: `http://127.0.0.1:${(server.address() as { port: number }).port}/` })
    await gateway.ready
    closers.push(() => gateway.close({ drainMs: 0 }))
    const client = createNodeClient({ url: gateway.url })
    closers.push(() => client.close())
    await client.ready()
    await expect(client.start({ query: 'q', requestId: 'e1' }).result).rejects.toThrow(/HTTP 500/)
    mode = 'cut'
    await expect(client.start({ query: 'q', requestId: 'e2' }).result).rejects.toThrow(/before RUN_FINISHED/)
    expect(client.getSnapshot().requests.e2?.messages).toEqual([{ kind: 'text', id: 'm1', role: 'assistant', text: 'half', status: 'open' }])
  })
})

