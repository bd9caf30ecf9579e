import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { AgentwireError, CloseCode, ErrorCode } from 'agentwire/protocol'
import { settle, setup, until } from './support/setup'

// A command the gateway cannot take (here: larger than its maxPayload) used to pass the
// client's checks, close the connection with 1009 (retryable), and be re-sent by the outbox on
// every new connection: 26 reconnects in 4 s, every subscription churning with it.

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

const huge = 'q'.repeat(65_536)

describe('a poison command (hole 2)', () => {
  it('a command larger than the maxPayload of the welcome is rejected at once with payload_too_large; nothing is sent, nothing is closed', async () => {
    const { gateway, client, states } = setup({}, { limits: { maxPayload: 65_536, ratePerSecond: 50, rateBurst: 100 } })
    client.subscribe('agent:a')
    await until(() => client.state === 'open')
    const run = client.start({ query: huge })
    const outcome = await run.accepted.then(
      () => undefined,
      (error: unknown) => error,
    )
    expect(outcome).toBeInstanceOf(AgentwireError)
    expect((outcome as AgentwireError).code).toBe(ErrorCode.PayloadTooLarge)
    expect((outcome as AgentwireError).message).toMatch(/65536/)
    await expect(run.result).rejects.toMatchObject({ code: ErrorCode.PayloadTooLarge })
    // A command that fits still goes, on the same connection.
    const cancelled = client.cancel('r-1')
    await settle()
    await expect(cancelled).resolves.toBeUndefined()
    expect(gateway.framesOf('start')).toHaveLength(0)
    expect(gateway.framesOf('cancel')).toHaveLength(1)
    expect(gateway.connections).toHaveLength(1)
    expect(states.filter((s) => s.current === 'reconnecting')).toHaveLength(0)
    client.close()
  })

  it('a command made before the welcome is checked against its limits before it is sent', async () => {
    const { gateway, client } = setup({ autoConnect: false }, { limits: { maxPayload: 65_536 } })
    const run = client.start({ query: huge })
    const rejected = expect(run.accepted).rejects.toMatchObject({ code: ErrorCode.PayloadTooLarge })
    client.connect()
    await until(() => client.state === 'open')
    await rejected
    await settle()
    expect(gateway.framesOf('start')).toHaveLength(0)
    expect(gateway.connections).toHaveLength(1)
    client.close()
  })

  it('without limits in the welcome: after the connection closed twice with 1009 following the same command, it is rejected with that cause and not sent again', async () => {
    const { gateway, client, states } = setup(
      {},
      {
        onFrame: (frame, connection) => {
          if (frame.type !== 'start' || frame.query.length < 60_000) return
          connection.close(CloseCode.MessageTooBig, 'message too big')
          return false
        },
      },
    )
    client.subscribe('agent:a')
    await until(() => client.state === 'open')
    const run = client.start({ query: huge })
    const outcome = run.accepted.then(
      () => undefined,
      (error: unknown) => error,
    )
    await until(() => gateway.connections.length >= 3 && client.state === 'open', 30_000)
    const error = await outcome
    expect(error).toBeInstanceOf(AgentwireError)
    expect((error as AgentwireError).code).toBe(ErrorCode.PayloadTooLarge)
    expect((error as AgentwireError).message).toMatch(/1009/)
    // Ten more seconds: the link stays up and the command is not sent again.
    await settle(10_000)
    expect(gateway.framesOf('start')).toHaveLength(2)
    expect(gateway.connections).toHaveLength(3)
    expect(states.filter((s) => s.current === 'reconnecting')).toHaveLength(2)
    expect(client.state).toBe('open')
    client.close()
  })

  it("commands flushed after a reconnect keep to the welcome's rate: half its burst at once, the rest at half its rate, so a full outbox never trips the gateway's limit", async () => {
    const { gateway, client } = setup({ autoConnect: false }, { limits: { maxPayload: 65_536, ratePerSecond: 10, rateBurst: 10 } })
    const arrivals: number[] = []
    gateway.set({
      onFrame: (frame) => {
        if (frame.type === 'cancel') arrivals.push(Date.now())
      },
    })
    const done = Array.from({ length: 20 }, (_, i) => client.cancel(`r-${i}`))
    client.connect()
    await until(() => client.state === 'open')
    const openAt = Date.now()
    await settle(10)
    expect(arrivals).toHaveLength(5)
    await until(() => arrivals.length === 20, 10_000)
    // 15 more at 5 per second: about 3 s.
    expect(Date.now() - openAt).toBeGreaterThanOrEqual(2_900)
    for (let i = 5; i < arrivals.length; i++) expect(arrivals[i]! - arrivals[i - 1]!).toBeGreaterThanOrEqual(190)
    await settle()
    await expect(Promise.all(done)).resolves.toHaveLength(20)
    client.close()
  })
})
