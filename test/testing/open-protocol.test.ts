import * as z from 'zod'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createClient, type Client } from 'agentwire'
import { AgentwireError, defineCommands, defineEvents, ErrorCode } from 'agentwire/protocol'
import { createMockGateway, type MockConnection, type MockGateway } from 'agentwire/testing'

const events = defineEvents({
  'deploy.finished': z.object({ service: z.string(), ok: z.boolean() }),
}).reducer('deploys', {
  initial: { total: 0, failed: [] as string[] },
  reduce: (state, event) =>
    event.type !== 'deploy.finished' ? state : { total: state.total + 1, failed: event.payload.ok ? state.failed : [...state.failed, event.payload.service] },
})
const commands = defineCommands({
  pause: z.object({ agent: z.string() }),
  resume: { payload: z.object({ agent: z.string() }), result: z.object({ resumed: z.string() }) },
})

let gateway: MockGateway<typeof events>
let client: Client<typeof events>
const seen: Array<{ name: string; payload: unknown; connection: MockConnection }> = []

beforeEach(() => {
  seen.length = 0
  gateway = createMockGateway({
    events,
    commands,
    onCommand: (command, { connection }) => {
      seen.push({ name: command.name, payload: command.payload, connection })
      if (command.name === 'resume') throw new AgentwireError(ErrorCode.Forbidden, 'not yours to resume')
      return { paused: (command.payload as { agent: string }).agent }
    },
  })
  // No `commands` here: the client sends any name and payload, so the mock's own checks answer.
  client = createClient({ url: gateway.url, WebSocket: gateway.WebSocket, events, reconnect: { initialDelayMs: 1, maxDelayMs: 2 } })
})
afterEach(() => {
  client.close()
  gateway.close()
})

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'resolved',
    (error: unknown) => (error instanceof AgentwireError ? error.code : String(error)),
  )

describe('the mock gateway with the application’s definitions', () => {
  it('refuses an unknown event type, an invalid payload and a pattern with typed errors, and stores nothing', () => {
    const publish = gateway.publish as (channel: string, event: unknown) => unknown
    const refused = (channel: string, event: unknown) => {
      try {
        publish(channel, event)
      } catch (error) {
        return error instanceof AgentwireError ? error.code : `not typed: ${String(error)}`
      }
      return 'accepted'
    }
    expect(refused('deploys:prod', { type: 'deploy.started', payload: {} })).toBe(ErrorCode.UnknownEvent)
    expect(refused('deploys:prod', { type: 'deploy.finished', payload: { service: 'api', ok: 'yes' } })).toBe(ErrorCode.BadRequest)
    expect(refused('deploys:*', { type: 'deploy.finished', payload: { service: 'api', ok: true } })).toBe(ErrorCode.InvalidChannel)
    expect(refused('Not a channel', { type: 'deploy.finished', payload: { service: 'api', ok: true } })).toBe(ErrorCode.InvalidChannel)
    expect(gateway.reducedOf('deploys:prod')).toBeUndefined()
    expect(gateway.stateOf('deploys:prod').agents).toEqual({})
  })

  it('accepts any channel name parseChannel does and folds the reducers per channel', () => {
    expect(gateway.publish('deploys:prod:eu', { type: 'deploy.finished', payload: { service: 'api', ok: false } })).toMatchObject({ channel: 'deploys:prod:eu', seq: 1 })
    gateway.publish('deploys:prod:eu', { type: 'deploy.finished', payload: { service: 'web', ok: true } })
    gateway.publish('ops', { type: 'deploy.finished', payload: { service: 'db', ok: true } })
    expect(gateway.reducedOf('deploys:prod:eu')).toEqual({ deploys: { total: 2, failed: ['api'] } })
    expect(gateway.reducedOf('ops')).toEqual({ deploys: { total: 1, failed: [] } })
  })

  it('sends the reducer states in state frames, and live events fold on in the client', async () => {
    gateway.publish('deploys:prod', { type: 'deploy.finished', payload: { service: 'api', ok: false } })
    gateway.publish('deploys:prod', { type: 'deploy.finished', payload: { service: 'web', ok: true } })
    const heard: string[] = []
    client.on('deploy.finished', (event, ctx) => void heard.push(`${ctx.channel}:${event.payload.service}`))
    await client.subscribe('deploys:prod').ready
    // The snapshot came as a state frame: the events before it are in the reducer, not replayed.
    await expect.poll(() => client.reduced('deploys', 'deploys:prod'), { timeout: 10_000 }).toEqual({ total: 2, failed: ['api'] })
    expect(heard).toEqual([])

    gateway.publish('deploys:prod', { type: 'deploy.finished', payload: { service: 'db', ok: false } })
    await expect.poll(() => client.reduced('deploys', 'deploys:prod'), { timeout: 10_000 }).toEqual({ total: 3, failed: ['api', 'db'] })
    expect(heard).toEqual(['deploys:prod:db'])
  })

  it('answers commands: unknown name, invalid payload, the handler’s result, and its typed error', async () => {
    const send = client.command as (name: string, payload: unknown) => Promise<unknown>
    expect(await codeOf(send('reboot', { agent: 'planner' }))).toBe(ErrorCode.UnknownCommand)
    expect(await codeOf(send('pause', { agent: 42 }))).toBe(ErrorCode.BadRequest)
    expect(seen).toEqual([])

    await expect(send('pause', { agent: 'planner', extra: true })).resolves.toEqual({ paused: 'planner' })
    // The handler saw the payload as the schema parsed it, and the connection it came on.
    expect(seen).toHaveLength(1)
    expect(seen[0]!.payload).toEqual({ agent: 'planner' })
    expect(gateway.connections).toContain(seen[0]!.connection)

    expect(await codeOf(send('resume', { agent: 'planner' }))).toBe(ErrorCode.Forbidden)
    expect(seen.map((s) => s.name)).toEqual(['pause', 'resume'])
  })
})

describe('the mock gateway without onCommand', () => {
  it('replies ok with no result to a valid command, and unknown_command without definitions', async () => {
    const plain = createMockGateway({ commands })
    const bare = createMockGateway()
    const a = createClient({ url: plain.url, WebSocket: plain.WebSocket, commands })
    const b = createClient({ url: bare.url, WebSocket: bare.WebSocket })
    try {
      await expect(a.command('pause', { agent: 'planner' })).resolves.toBeUndefined()
      expect(plain.received.filter((f) => f.type === 'command')).toMatchObject([{ name: 'pause', payload: { agent: 'planner' } }])
      expect(await codeOf(b.command('pause', { agent: 'planner' }))).toBe(ErrorCode.UnknownCommand)
    } finally {
      a.close()
      b.close()
      plain.close()
      bare.close()
    }
  })
})
