import WebSocket from 'ws'
import { afterEach, describe, expect, it } from 'vitest'
import { initialState, PROTOCOL_VERSION, reduce } from 'agentwire/protocol'
import type { AgentEvent, AgentwireState } from 'agentwire/protocol'
import { createGateway, type Gateway } from 'agentwire/server'
import { createPublisher, redisBroker, type RedisBroker } from 'agentwire/redis'
import { deletePrefix, REDIS_URL, statusEvent, uniquePrefix, waitFor } from './helpers'

type Frame = { type: string; [key: string]: any }

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** One visit of the moving client: a raw `ws` connection that hands every frame to `onFrame`. */
function visit(url: string, onFrame: (f: Frame, ws: WebSocket) => void): { ws: WebSocket; closed: Promise<number> } {
  const ws = new WebSocket(url, { perMessageDeflate: false })
  cleanups.push(() => ws.terminate())
  ws.on('error', () => undefined)
  ws.on('message', (data) => onFrame(JSON.parse(String(data)) as Frame, ws))
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)))
  return { ws, closed }
}

describe('several gateways on one Redis', () => {
  it('a client moves across three gateways while 10,000 events are published: each arrives once, in order, and its state equals the snapshot', async () => {
    const prefix = uniquePrefix('xnode')
    const retention = { size: 12_000, maxAgeMs: 0 }
    cleanups.push(async () => void (await deletePrefix(prefix)))
    const brokers: RedisBroker[] = []
    const gateways: Gateway[] = []
    for (let i = 0; i < 3; i++) {
      // A window over the whole run: the case is resuming across gateways, and a client slow to
      // reconnect on a loaded machine must not fall out of the default window of 1,000 (that
      // is a resync, covered elsewhere).
      const broker = redisBroker({ url: REDIS_URL, prefix, retention, onError: () => undefined })
      const gateway = createGateway({ port: 0, host: '127.0.0.1', broker })
      brokers.push(broker)
      gateways.push(gateway)
      cleanups.push(() => broker.close())
      cleanups.push(() => gateway.close({ drainMs: 200 }))
      await gateway.ready
    }
    const publisher = createPublisher({ url: REDIS_URL, prefix, retention })
    cleanups.push(() => publisher.close())

    const channel = 'agent:mover'
    const TOTAL = 10_000
    const seqs: number[] = []
    const stateFrames: Frame[] = []
    let state: AgentwireState = initialState()
    let epoch = ''
    let visits = 0
    const done = waitFor(() => seqs.at(-1) === TOTAL, () => `at seq ${seqs.at(-1)} after ${visits} visits: ${trail.join(', ')}`, 120_000)

    let subscribed!: () => void
    const firstSubscribed = new Promise<void>((r) => (subscribed = r))
    /** Per visit: the gateway, the position it resumed from and the last seq it took, for the failure messages. */
    const trail: string[] = []
    // Moves to the next gateway after every 3,000 events, and on any close the gateway makes.
    const move = () => {
      const index = visits % gateways.length
      const gateway = gateways[index]!
      visits++
      const last = seqs.at(-1) ?? 0
      const at = trail.push(`gateway ${index} from ${last}`) - 1
      // Set when this client closes the connection. The gateway goes on sending until it reads the
      // close frame, and what it wrote before then still arrives (under load, hundreds to over a
      // thousand events already in the socket buffers). The client has left and takes none of it,
      // as the library's own client does (websocket-transport.ts: no late events after close()); the
      // next gateway replays it from the position. Taking it let one visit run past the next
      // multiple of 3,000, or to the end, so the client moved fewer times than the case is about.
      let left = false
      const v = visit(gateway.url, (f, ws) => {
        if (left) return
        if (f.type === 'welcome') {
          if (last === 0) ws.send(JSON.stringify({ type: 'subscribe', id: 's1', channels: [{ channel }] }))
        } else if (f.type === 'reply' && f.id === 's1') subscribed()
        else if (f.type === 'ping') ws.send(JSON.stringify({ type: 'pong', t: f.t }))
        else if (f.type === 'state') {
          stateFrames.push(f)
          epoch = f.epoch
        } else if (f.type === 'event' && f.channel === channel) {
          seqs.push(f.seq)
          state = reduce(state, f.event as AgentEvent)
          trail[at] = `gateway ${index} from ${last} to ${f.seq}`
          done.poke()
          if (f.seq % 3000 === 0 && f.seq < TOTAL) {
            left = true
            ws.close(1000)
          }
        }
      })
      v.ws.on('open', () => {
        const resume = last === 0 ? undefined : [{ channel, resume: [{ channel, epoch, seq: last }] }]
        v.ws.send(JSON.stringify({ type: 'hello', v: PROTOCOL_VERSION, ...(resume ? { resume } : {}) }))
      })
      void v.closed.then(() => {
        if (seqs.at(-1) !== TOTAL) move()
      })
    }
    move()
    await firstSubscribed
    expect(stateFrames).toMatchObject([{ channel, seq: 0, reason: 'initial' }])

    for (let i = 0; i < TOTAL; i += 200) {
      await Promise.all(Array.from({ length: 200 }, (_, j) => publisher.publish(channel, statusEvent('mover', i + j))))
    }
    await done.done

    expect(visits, trail.join(', ')).toBeGreaterThanOrEqual(4)
    expect(seqs).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1))
    // Every later visit resumed from its position: no snapshot after the first one.
    expect(stateFrames).toHaveLength(1)
    const snapshot = await brokers[2]!.snapshot(channel)
    expect(snapshot.seq).toBe(TOTAL)
    expect(snapshot.epoch).toBe(epoch)
    expect(state).toEqual(snapshot.state)
  }, 130_000) // longer than `done` waits (120 s): a stall fails with its seq and visits, not the bare 30 s test timeout
})
