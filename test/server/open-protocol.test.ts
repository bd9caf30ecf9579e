import { describe, expect, it } from 'vitest'
import * as z from 'zod'
import { defineCommands, defineEvents } from 'agentwire/protocol'
import { memoryBroker, type CommandFrame } from 'agentwire/server'
import { command, open, subscribe } from './support/client'
import { startGateway, status } from './support/gateway'
import { createRegistry } from './support/registry'

/** The gateway's side of the open protocol: publish checks, commands, reducer state in snapshots. */

const registry = createRegistry()

const events = defineEvents({
  'deploy.finished': z.object({ service: z.string(), ok: z.boolean() }),
})
  .reducer('deploys', {
    initial: { total: 0 },
    reduce: (state, event) => (event.type === 'deploy.finished' ? { total: state.total + 1 } : state),
  })
  .reducer('fragile', {
    initial: 0,
    reduce: (n, event) => {
      if (event.type === 'deploy.finished' && event.payload.service === 'boom') throw new Error('reducer bug')
      return n + 1
    },
  })
const commands = defineCommands({
  pause: { payload: z.object({ agent: z.string() }), result: z.object({ paused: z.string() }) },
  drain: z.object({ seconds: z.number().int().min(1) }),
})
const deploy = (service: string, ok = true) => ({ type: 'deploy.finished' as const, payload: { service, ok } })

describe('the open protocol on the gateway', () => {
  it('publishes the application events it knows, validated; refuses other types and invalid payloads with typed errors', async () => {
    const gateway = await startGateway(registry, { events })
    await expect(gateway.publish('deploys:prod', deploy('api'))).resolves.toMatchObject({ channel: 'deploys:prod', seq: 1 })
    await expect(gateway.publish('deploys:prod', { type: 'deploy.finished', payload: { service: 'api' } } as never)).rejects.toMatchObject({
      code: 'bad_request',
      message: '"publish" expects payload.ok to be a boolean, got nothing',
      path: ['payload', 'ok'],
    })
    await expect(gateway.publish('deploys:prod', { type: 'deploy.started', payload: {} } as never)).rejects.toMatchObject({
      code: 'unknown_event',
      message: expect.stringContaining('nor one of deploy.finished'),
    })
    // Unknown keys are stripped, as at home: the stored event is what the schema says.
    const stored = await gateway.publish('deploys:prod', { type: 'deploy.finished', payload: { service: 'web', ok: false, secret: 'x' } } as never)
    expect(stored.event).toEqual(deploy('web', false))
    // Built-in events are unchanged, on any channel name the grammar allows.
    await expect(gateway.publish('audit:eu:2026', status('planner'))).resolves.toMatchObject({ seq: 1 })
    await expect(gateway.publish('Deploys:prod', deploy('db'))).resolves.toMatchObject({ channel: 'deploys:prod', seq: 3 })
    await expect(gateway.publish('deploys:*', deploy('db'))).rejects.toMatchObject({ code: 'invalid_channel' })
    // Without definitions, a type that is not built in is refused.
    const plain = await startGateway(registry)
    await expect(plain.publish('deploys:prod', deploy('api') as never)).rejects.toMatchObject({ code: 'unknown_event' })
  })

  it('keeps each reducer state in the snapshot and sends it in state frames; a reducer that throws keeps its state and loses no event', async () => {
    const broker = memoryBroker({ events })
    registry.track(() => broker.close())
    const gateway = await startGateway(registry, { broker, events })
    for (const service of ['api', 'boom', 'web']) await gateway.publish('deploys:prod', deploy(service))
    const snapshot = await broker.snapshot('deploys:prod')
    expect(snapshot.seq).toBe(3)
    expect({ ...snapshot.reduced }).toEqual({ deploys: { total: 3 }, fragile: 2 })

    const raw = await open(gateway.url, registry)
    const reply = await subscribe(raw, ['deploys:prod'])
    expect(reply.result[0]).toMatchObject({ ok: true, recovered: false })
    const state = await raw.waitForFrame((f) => f.type === 'state' && f.channel === 'deploys:prod')
    expect(state).toMatchObject({ seq: 3, reason: 'initial', reduced: { deploys: { total: 3 }, fragile: 2 } })
  })

  it('hands the gateway its definitions: a broker of the application’s keeps reducer state once the gateway defines it', async () => {
    const broker = memoryBroker()
    registry.track(() => broker.close())
    const gateway = await startGateway(registry, { broker, events })
    await gateway.publish('deploys:prod', deploy('api'))
    expect((await broker.snapshot('deploys:prod')).reduced).toMatchObject({ deploys: { total: 1 } })
  })

  it('routes the application commands to onCommand with the principal; unknown names, invalid payloads and results are typed replies, never a close; an id runs once', async () => {
    const seen: Array<{ command: CommandFrame; principal: string }> = []
    const gateway = await startGateway(registry, {
      commands,
      authenticate: (token) => (token ? { id: token } : null),
      onCommand: (frame, context) => {
        if (frame.type !== 'command') return context.defaultHandler()
        seen.push({ command: frame, principal: context.principal.id })
        if (frame.name === 'pause') return (frame.payload as { agent: string }).agent === 'liar' ? { paused: 7 } : { paused: (frame.payload as { agent: string }).agent }
        return undefined
      },
    })
    const raw = await open(gateway.url, registry, { token: 'ops' })

    expect(await command(raw, { type: 'command', name: 'pause', payload: { agent: 'planner' } })).toMatchObject({ ok: true, result: { paused: 'planner' } })
    expect(await command(raw, { type: 'command', name: 'drain', payload: { seconds: 5 } })).toMatchObject({ ok: true })
    expect(seen.map((s) => [s.command.type === 'command' && s.command.name, s.principal])).toEqual([
      ['pause', 'ops'],
      ['drain', 'ops'],
    ])

    const unknown = await command(raw, { type: 'command', name: 'reboot', payload: {} })
    expect(unknown).toMatchObject({ ok: false, error: { code: 'unknown_command', message: 'unknown command "reboot": expected one of pause, drain' } })
    const invalid = await command(raw, { type: 'command', name: 'drain', payload: { seconds: 0 } })
    expect(invalid).toMatchObject({ ok: false, error: { code: 'bad_request', message: expect.stringContaining('seconds to be at least 1') } })
    const badResult = await command(raw, { type: 'command', name: 'pause', payload: { agent: 'liar' } })
    expect(badResult).toMatchObject({ ok: false, error: { code: 'internal', message: 'the "pause" handler returned a result its schema refuses' } })
    expect(seen).toHaveLength(3)

    // The same id again: the first reply, and the handler not run twice.
    const first = await command(raw, { type: 'command', id: 'once-1', name: 'pause', payload: { agent: 'critic' } })
    const again = await command(raw, { type: 'command', id: 'once-1', name: 'pause', payload: { agent: 'critic' } })
    expect(again).toEqual(first)
    expect(seen).toHaveLength(4)

    // Still open: none of the above closed the connection.
    expect(raw.ws.readyState).toBe(raw.ws.OPEN)
    expect(await subscribe(raw, ['deploys:prod'])).toMatchObject({ ok: true })
  })

  it('answers an application command with no handler as unsupported, and one with no definitions as unknown', async () => {
    const withDefs = await startGateway(registry, { commands })
    const a = await open(withDefs.url, registry)
    expect(await command(a, { type: 'command', name: 'drain', payload: { seconds: 1 } })).toMatchObject({ ok: false, error: { code: 'unsupported' } })
    const bare = await startGateway(registry)
    const b = await open(bare.url, registry)
    expect(await command(b, { type: 'command', name: 'drain', payload: { seconds: 1 } })).toMatchObject({
      ok: false,
      error: { code: 'unknown_command', message: expect.stringContaining('defines no commands') },
    })
  })
})
