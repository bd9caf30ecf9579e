import fc from 'fast-check'
import WebSocket from 'ws'
import { describe, expect, it } from 'vitest'
import { dialects, PROTOCOL_VERSION } from 'agentwire/protocol'
import { agentEvent } from './support/audit'
import { recordFigures, scale, until } from './support/results'
import { chaosClient, cleanup, gatewayOn } from './support/stack'

const defer = cleanup()

const POISON = ['__proto__', 'constructor', 'prototype'] as const

/** A JSON value with prototype keys planted at every depth. */
const poisoned: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null)),
    fc.array(tie('value'), { maxLength: 4 }),
    fc
      .tuple(fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 4 }), fc.constantFrom(...POISON), tie('value'))
      .map(([obj, key, inner]) => JSON.parse(`{${JSON.stringify(key)}:${JSON.stringify(inner) ?? 'null'},${JSON.stringify(obj).slice(1)}`.replace(/,}$/, '}')) as unknown),
  ),
})).value

/** Server frames: valid-looking ones with poison inside, broken JSON, random strings. */
const serverFrame: fc.Arbitrary<string> = fc.oneof(
  fc.record({ channel: fc.constantFrom('agent:a', 'task:t', '__proto__', 'agent:__proto__'), seq: fc.oneof(fc.nat(), fc.string()), payload: poisoned }).map(
    (f) => `{"type":"event","channel":${JSON.stringify(f.channel)},"epoch":"e","seq":${JSON.stringify(f.seq)},"event":{"type":"agent.status","payload":${JSON.stringify(f.payload) ?? 'null'},"__proto__":{"polluted":1}}}`,
  ),
  fc.record({ state: poisoned }).map((f) => `{"type":"state","channel":"agent:a","epoch":"e","seq":1,"reason":"window","state":${JSON.stringify(f.state) ?? 'null'}}`),
  fc.record({ id: fc.string(), error: poisoned }).map((f) => `{"type":"reply","id":${JSON.stringify(f.id)},"ok":false,"error":${JSON.stringify(f.error) ?? 'null'}}`),
  poisoned.map((v) => JSON.stringify(v) ?? 'null'),
  fc.string(),
  fc.string().map((s) => `{"type":"event",${s}`),
)

/** Client frames a hostile peer sends a gateway: commands with poison in every free-form field, and junk. */
const clientFrame: fc.Arbitrary<string> = fc.oneof(
  { weight: 10, arbitrary: poisoned.map((answer) => `{"type":"feedback","id":"f","requestId":"nope","questionId":"q","answer":${JSON.stringify(answer) ?? 'null'},"__proto__":{"polluted":1}}`) },
  { weight: 5, arbitrary: poisoned.map((p) => `{"type":"subscribe","id":"s","channels":[{"channel":"agent:a","__proto__":${JSON.stringify(p) ?? 'null'}}],"constructor":{"prototype":{"polluted":1}}}`) },
  { weight: 5, arbitrary: fc.string({ maxLength: 40 }).map((r) => `{"type":"cancel","id":"c","requestId":"nope","reason":${JSON.stringify(r)},"prototype":{"polluted":1}}`) },
  { weight: 5, arbitrary: fc.nat().map((t) => `{"type":"ping","t":${t},"__proto__":{"polluted":1}}`) },
)
/** Junk that is no frame at all: the gateway closes with 4400 at it, so each connection ends with one. */
const junkFrame: fc.Arbitrary<string> = fc.oneof(fc.string(), poisoned.map((v) => JSON.stringify(v) ?? 'null'), fc.string().map((x) => `{"type":"subscribe",${x}`))

const polluted = () => ({} as Record<string, unknown>).polluted !== undefined || Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')

describe('Fuzz: hostile frames into the client decoder and a live gateway', () => {
  it('B1/B4: 100,000 frames into dialects.agentwire.decode: never throws, no prototype pollution, every result typed', () => {
    const frames = scale(100_000, 1_000_000)
    let ok = 0
    let errors = 0
    let thrown = 0
    const codes = new Set<string>()
    const batch = 5_000
    for (let done = 0; done < frames; done += batch) {
      for (const text of fc.sample(serverFrame, { numRuns: batch, seed: 42 + done })) {
        try {
          const r = dialects.agentwire.decode(text)
          if (r.ok) ok++
          else {
            errors++
            codes.add(r.error.code)
          }
        } catch {
          thrown++
        }
      }
    }
    recordFigures('FUZZ-decoder', 'B1/B4: frames into dialects.agentwire.decode', { frames, ok, errors, thrown, errorCodes: [...codes], polluted: polluted() })
    expect(thrown).toBe(0)
    expect(polluted()).toBe(false)
    expect(ok + errors).toBe(frames)
  })

  it('B1/B4: 100,000 raw frames into a live gateway: no crash, no pollution, and another client is still served', async () => {
    const frames = scale(100_000, 1_000_000)
    const gateway = await gatewayOn({ limits: { rate: { perSecond: 10_000_000, burst: 10_000_000 }, maxQueuedFrames: 100_000 } })
    defer(() => gateway.close({ drainMs: 100 }))
    const bystander = chaosClient(gateway.url)
    defer(() => bystander.close())
    let received = 0
    bystander.on('event', () => void received++)
    await bystander.subscribe('agent:bystander').ready

    let sent = 0
    let connections = 0
    const closeCodes = new Map<number, number>()
    const deadline = Date.now() + scale(90_000, 900_000)
    const samples = fc.sample(clientFrame, { numRuns: 20_000, seed: 7 })
    const junk = fc.sample(junkFrame, { numRuns: 1000, seed: 8 })
    while (sent < frames && Date.now() < deadline) {
      connections++
      const ws = new WebSocket(gateway.url, { perMessageDeflate: false })
      ws.on('error', () => undefined)
      await new Promise<void>((resolve) => {
        ws.once('open', () => ws.send(JSON.stringify({ type: 'hello', v: PROTOCOL_VERSION })))
        // The burst follows the welcome: commands before it are closed with 4401 unread.
        ws.once('message', () => {
          const burst = Math.min(2000, frames - sent)
          for (let i = 0; i < burst - 1; i++) ws.send(samples[(sent + i) % samples.length]!)
          ws.send(junk[connections % junk.length]!)
          sent += burst
          // If the junk happened to parse as a frame, the close ends the connection instead.
          ws.close(1000)
        })
        ws.once('close', (code) => {
          closeCodes.set(code, (closeCodes.get(code) ?? 0) + 1)
          resolve()
        })
      })
    }
    await gateway.publish('agent:bystander', agentEvent('bystander', 1))
    await until(() => received === 1, () => 'the bystander got nothing', 10_000)
    const stats = gateway.stats()
    recordFigures('FUZZ-gateway', 'B1/B4: raw frames into a live gateway', {
      framesSent: sent,
      framesReceivedByGateway: stats.framesIn.total,
      connections,
      closeCodes: Object.fromEntries(closeCodes),
      drops: stats.drops,
      polluted: polluted(),
      bystanderServed: received === 1,
      bystanderState: bystander.state,
    })
    expect(sent).toBeGreaterThanOrEqual(frames)
    // Most frames are read: a connection ends early only at a frame the gateway refuses (4400).
    expect(stats.framesIn.total).toBeGreaterThan(frames / 2)
    expect(polluted()).toBe(false)
    expect(bystander.state).toBe('open')
    expect(received).toBe(1)
  })
})
