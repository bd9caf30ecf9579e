import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { EventType, type BaseEvent, type RunAgentInput } from '@ag-ui/core'
import { EventEncoder } from '@ag-ui/encoder'

/**
 * An AG-UI agent for tests, speaking as real ones do: POST a `RunAgentInput`, get an SSE stream
 * written by `@ag-ui/encoder`. Each run plays `script(input)`: AG-UI events, and `PAUSE` marks
 * where it waits until the test calls `resume()`, so a test can cut a connection at a known
 * point in the middle of a message or of a tool call's arguments.
 */
export const PAUSE = Symbol('pause')
export type Step = BaseEvent | typeof PAUSE

export interface TestAgent {
  readonly url: string
  /** Inputs received, in order. */
  readonly inputs: RunAgentInput[]
  /** Lets the run go on past its next PAUSE. */
  resume(): void
  /** Resolves once the run has written everything before its next PAUSE (or its end). */
  paused(): Promise<void>
  close(): Promise<void>
}

/** A streamed reply: text in pieces, one tool call with arguments in pieces, shared state by snapshot and delta. */
export function scriptFor(input: RunAgentInput): Step[] {
  const { threadId, runId } = input
  return [
    { type: EventType.RUN_STARTED, threadId, runId } as BaseEvent,
    { type: EventType.STATE_SNAPSHOT, snapshot: { count: 0, items: [] } } as BaseEvent,
    { type: EventType.STEP_STARTED, stepName: 'answer' } as BaseEvent,
    { type: EventType.TEXT_MESSAGE_START, messageId: 'm1', role: 'assistant' } as BaseEvent,
    { type: EventType.TEXT_MESSAGE_CONTENT, messageId: 'm1', delta: 'The answer ' } as BaseEvent,
    { type: EventType.TEXT_MESSAGE_CONTENT, messageId: 'm1', delta: 'is ' } as BaseEvent,
    PAUSE,
    { type: EventType.TEXT_MESSAGE_CONTENT, messageId: 'm1', delta: 'forty' } as BaseEvent,
    { type: EventType.TEXT_MESSAGE_CONTENT, messageId: 'm1', delta: '-two.' } as BaseEvent,
    { type: EventType.TEXT_MESSAGE_END, messageId: 'm1' } as BaseEvent,
    { type: EventType.TOOL_CALL_START, toolCallId: 'c1', toolCallName: 'lookup', parentMessageId: 'm1' } as BaseEvent,
    { type: EventType.TOOL_CALL_ARGS, toolCallId: 'c1', delta: '{"q":' } as BaseEvent,
    PAUSE,
    { type: EventType.TOOL_CALL_ARGS, toolCallId: 'c1', delta: '"life"' } as BaseEvent,
    { type: EventType.TOOL_CALL_ARGS, toolCallId: 'c1', delta: '}' } as BaseEvent,
    { type: EventType.TOOL_CALL_END, toolCallId: 'c1' } as BaseEvent,
    { type: EventType.STATE_DELTA, delta: [{ op: 'replace', path: '/count', value: 1 }, { op: 'add', path: '/items/-', value: 'life' }] } as BaseEvent,
    { type: EventType.TOOL_CALL_RESULT, messageId: 't1', toolCallId: 'c1', content: '42' } as BaseEvent,
    { type: EventType.STEP_FINISHED, stepName: 'answer' } as BaseEvent,
    { type: EventType.RUN_FINISHED, threadId, runId, result: { answer: 42 } } as BaseEvent,
  ]
}

async function body(req: IncomingMessage): Promise<string> {
  let s = ''
  for await (const chunk of req) s += chunk
  return s
}

export async function startTestAgent(script: (input: RunAgentInput) => Step[] = scriptFor): Promise<TestAgent> {
  const inputs: RunAgentInput[] = []
  let credits = 0
  let wake: (() => void) | undefined
  let pausedWaiters: Array<() => void> = []
  let atPause = false
  const server: Server = createServer((req, res) => {
    void (async () => {
      const input = JSON.parse(await body(req)) as RunAgentInput
      inputs.push(input)
      const encoder = new EventEncoder({ accept: req.headers.accept })
      res.writeHead(200, { 'content-type': encoder.getContentType(), 'cache-control': 'no-cache' })
      for (const step of script(input)) {
        if (step === PAUSE) {
          atPause = true
          for (const w of pausedWaiters.splice(0)) w()
          while (credits === 0) await new Promise<void>((resolve) => (wake = resolve))
          credits--
          atPause = false
          continue
        }
        if (res.destroyed) return
        res.write(encoder.encode(step))
      }
      res.end()
      atPause = true
      for (const w of pausedWaiters.splice(0)) w()
    })()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/agent`,
    inputs,
    resume() {
      atPause = false
      credits++
      wake?.()
    },
    paused: () => (atPause ? Promise.resolve() : new Promise<void>((resolve) => pausedWaiters.push(resolve))),
    async close() {
      credits = 1e9
      wake?.()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
