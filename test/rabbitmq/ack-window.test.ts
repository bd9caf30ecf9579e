import { describe, expect, it } from 'vitest'
import { createAckWindow } from '../../src/rabbitmq/ack-window'

describe('the ack window of one channel', () => {
  it('acknowledges in arrival order only: a delivery settled early waits for the ones before it', () => {
    const w = createAckWindow<string>()
    for (const m of ['a', 'b', 'c', 'd']) w.open(m)
    expect(w.settle('c')).toBeUndefined()
    expect(w.settle('b')).toBeUndefined()
    expect(w.settle('a')).toEqual({ upTo: 'c', count: 3 })
    expect(w.size).toBe(1)
    expect(w.settle('d')).toEqual({ upTo: 'd', count: 1 })
    expect(w.size).toBe(0)
  })

  it('holds back everything after a delivery that never settles (its publish failed), so the channel\'s loss requeues them all', () => {
    const w = createAckWindow<number>()
    for (let i = 1; i <= 5; i++) w.open(i)
    expect(w.settle(1)).toEqual({ upTo: 1, count: 1 })
    // 2 failed: 3, 4, 5 were published, and are still not acknowledged.
    for (const i of [3, 4, 5]) expect(w.settle(i)).toBeUndefined()
    expect(w.size).toBe(4)
  })

  it('never names a rejected delivery in an ack (RabbitMQ forgot its tag when it was nacked), and acknowledges past it', () => {
    const w = createAckWindow<string>()
    for (const m of ['a', 'b', 'c']) w.open(m)
    expect(w.settle('a')).toEqual({ upTo: 'a', count: 1 })
    expect(w.settle('b', false)).toBeUndefined()
    expect(w.settle('c')).toEqual({ upTo: 'c', count: 1 })
    expect(w.size).toBe(0)
  })
})
