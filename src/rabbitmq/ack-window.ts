/**
 * The unacknowledged deliveries of one AMQP channel, in arrival order, acknowledged in that order
 * only: `settle` returns the latest delivery up to which every one is settled (one
 * `ack(message, true)` covers them all), or nothing while an earlier one is still being
 * published. A delivery settled as rejected (nacked on its own) is passed over, never the one
 * an `ack` names: RabbitMQ no longer knows its tag. So a delivery whose publish failed holds back every later one: when the channel
 * goes, RabbitMQ requeues it with all that followed, in order, and nothing after a failure is
 * acknowledged before it.
 */
export interface AckWindow<M> {
  /** A delivery arrived. */
  open(message: M): void
  /** A delivery's events were published (or it had none), or it was rejected (`ack: false`): what to acknowledge now, if anything. */
  settle(message: M, ack?: boolean): { upTo: M; count: number } | undefined
  /** Deliveries not yet acknowledged. */
  readonly size: number
}

/** The window is as long as the channel's prefetch at most, so a plain array serves. */
export function createAckWindow<M>(): AckWindow<M> {
  const pending: M[] = []
  /** Settled out of order, with whether each is to be acknowledged. */
  const settled = new Map<M, boolean>()

  return {
    open(message) {
      pending.push(message)
    },
    settle(message, ack = true) {
      settled.set(message, ack)
      let upTo: M | undefined
      let count = 0
      while (pending.length > 0 && settled.has(pending[0]!)) {
        const head = pending.shift()!
        if (settled.get(head)) {
          upTo = head
          count++
        }
        settled.delete(head)
      }
      return upTo === undefined ? undefined : { upTo, count }
    },
    get size() {
      return pending.length
    },
  }
}
