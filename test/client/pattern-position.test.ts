import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { settle, setup, until } from './support/setup'

/**
 * A pattern's own position (docs/PROTOCOL.md §4) as the client keeps it: taken from the
 * pattern's subscribe result, sent back in the next hello under the pattern's name beside the
 * concrete channels' positions, replaced by each newer result, and forgotten with the pattern.
 */

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

describe("a pattern's position", () => {
  it('is sent back on resume, replaced by the next result, and forgotten once the pattern is released', async () => {
    let births: number | undefined = 7
    const { gateway, client } = setup({}, {
      // The fake gateway knows no births: the test answers pattern subscribes with a position itself.
      onFrame: (frame, connection) => {
        const items = frame.type === 'hello' ? (frame.resume ?? []) : frame.type === 'subscribe' ? frame.channels : []
        if (!items.some((i) => i.channel === 'task:*')) return
        for (const i of items) connection.subscriptions.add(i.channel)
        const result = items.map((i) => ({ ok: true, channel: i.channel, recovered: false, ...(i.channel === 'task:*' && births !== undefined ? { position: { epoch: 'b1', seq: births } } : {}) }))
        if (frame.type === 'subscribe') connection.send({ type: 'reply', id: frame.id, ok: true, result })
        else connection.send({ type: 'welcome', v: 1, session: `s${connection.index}`, heartbeatMs: 25_000, subscriptions: result })
        return false
      },
    })
    const sub = client.subscribe('task:*')
    await until(() => sub.status === 'subscribed')
    const resumeOf = () => gateway.framesOf('hello', gateway.current!)[0]?.resume?.find((i) => i.channel === 'task:*')?.resume ?? []

    births = 9
    gateway.current!.close(1012)
    await until(() => client.state === 'open' && gateway.connections.length === 2)
    await settle()
    expect(resumeOf()).toEqual([{ channel: 'task:*', epoch: 'b1', seq: 7 }])

    gateway.current!.close(1012)
    await until(() => client.state === 'open' && gateway.connections.length === 3)
    await settle()
    expect(resumeOf()).toEqual([{ channel: 'task:*', epoch: 'b1', seq: 9 }])

    // Released, then followed again from a gateway that hands out no position: nothing old is sent.
    sub.unsubscribe()
    await settle()
    births = undefined
    const again = client.subscribe('task:*')
    await until(() => again.status === 'subscribed')
    gateway.current!.close(1012)
    await until(() => client.state === 'open' && gateway.connections.length === 4)
    await settle()
    expect(gateway.framesOf('hello', gateway.current!)[0]?.resume?.map((i) => i.channel)).toEqual(['task:*'])
    expect(resumeOf()).toEqual([])
  })
})
