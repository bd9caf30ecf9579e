/**
 * The unacknowledged deliveries of one AMQP channel, in arrival order, acknowledged in that order
 * only: `settle` returns the latest delivery up to which every one is settled (one
 * `ack(message, true)` covers them all), or nothing while an earlier one is still being
 * published. So a delivery whose publish failed holds back every later one: when the channel
 * goes, RabbitMQ requeues it with all that followed, in order, and nothing after a failure is
 * acknowledged before it.
 */
export interface AckWindow<M> {
  /** A delivery arrived. */
  open(message: M): void
  /** A delivery's events were published (or it had none): what to acknowledge now, if anything. */
  settle(message: M): { upTo: M; count: number } | undefined
  /** Deliveries not yet acknowledged. */
  readonly size: number
}

/** The window is as long as the channel's prefetch at most, so a plain array serves. */
export function createAckWindow<M>(): AckWindow<M> {
  const pending: M[] = []
  const settled = new Set<M>()

  return {
    open(message) {
      pending.push(message)
    },
    settle(message) {
      settled.add(message)
      let upTo: M | undefined
      let count = 0
      while (pending.length > 0 && settled.delete(pending[0]!)) {
        upTo = pending.shift()
        count++
      }
      return upTo === undefined ? undefined : { upTo, count }
    },
    get size() {
      return pending.length
    },
  }
}
