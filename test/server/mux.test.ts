import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startGateway, status } from './support/gateway'
import { createRegistry } from './support/registry'

// The gateway's side of shared tabs: several logical connections on one socket opened with
// `?mux=1`, each a full connection of its own (the browser side is test/browser/share.test.ts).

const registry = createRegistry()

async function muxSocket(url: string) {
  const ws = new WebSocket(`${url}?mux=1`)
  registry.track(() => ws.terminate())
  const messages: string[] = []
  const waiters: Array<() => void> = []
  ws.on('message', (data) => {
    messages.push(String(data))
    for (const w of waiters.splice(0)) w()
  })
  await new Promise((resolve) => ws.once('open', resolve))
  /** Waits for a message matching `predicate`. */
  const next = async (predicate: (m: string) => boolean, timeoutMs = 5000): Promise<string> => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = messages.find(predicate)
      if (found) {
        messages.splice(messages.indexOf(found), 1)
        return found
      }
      if (Date.now() > deadline) throw new Error('no such message')
      await new Promise<void>((resolve) => {
        waiters.push(resolve)
        setTimeout(resolve, 50)
      })
    }
  }
  const closed = new Promise<{ code: number }>((resolve) => ws.once('close', (code) => resolve({ code })))
  return { ws, next, closed, send: (vc: string, frame: unknown) => ws.send(`${vc}|${typeof frame === 'string' ? frame : JSON.stringify(frame)}`) }
}

describe('mux: logical connections on one socket', () => {
  it('each logical connection has its own hello, subscriptions and events; a closed one is forgotten', async () => {
    const gateway = await startGateway(registry, { authenticate: (token) => (token ? { id: token } : null) })
    const mux = await muxSocket(gateway.url)
    mux.send('t1', { type: 'hello', v: 1, token: 'alice' })
    mux.send('t2', { type: 'hello', v: 1, token: 'bob' })
    await mux.next((m) => m.startsWith('t1|{"type":"welcome"'))
    await mux.next((m) => m.startsWith('t2|{"type":"welcome"'))
    expect(gateway.stats().connections).toBe(2)
    mux.send('t1', { type: 'subscribe', id: 's1', channels: [{ channel: 'agent:a' }] })
    await mux.next((m) => m.startsWith('t1|{"type":"reply","id":"s1"'))
    await gateway.publish('agent:a', status('a', 1))
    const event = await mux.next((m) => m.includes('"type":"event"'))
    expect(event.startsWith('t1|')).toBe(true)
    mux.send('t1', '!close')
    await expect.poll(() => gateway.stats().connections).toBe(1)
    // A bad token closes that logical connection only.
    mux.send('t3', { type: 'hello', v: 1 })
    expect(await mux.next((m) => m.startsWith('t3|!close'))).toMatch(/^t3\|!close 4401/)
    expect(gateway.stats().connections).toBe(1)
    expect(mux.ws.readyState).toBe(WebSocket.OPEN)
  })

  it("the per-user connection limit counts the shared socket once: twelve tabs of one user on it are all let in, an eleventh socket is not", async () => {
    const gateway = await startGateway(registry, { authenticate: (token) => (token ? { id: token } : null) })
    const mux = await muxSocket(gateway.url)
    for (let i = 1; i <= 12; i++) mux.send(`t${i}`, { type: 'hello', v: 1, token: 'alice' })
    for (let i = 1; i <= 12; i++) await mux.next((m) => m.startsWith(`t${i}|{"type":"welcome"`))
    expect(gateway.stats().connections).toBe(12)
    const plain: WebSocket[] = []
    for (let i = 0; i < 10; i++) {
      const ws = new WebSocket(gateway.url)
      registry.track(() => ws.terminate())
      plain.push(ws)
      await new Promise((resolve) => ws.once('open', resolve))
      ws.send(JSON.stringify({ type: 'hello', v: 1, token: 'alice' }))
    }
    // Nine plain sockets and the shared one make ten: the tenth plain socket is one too many.
    const refused = await new Promise<number>((resolve) => plain[9]!.once('close', (code) => resolve(code)))
    expect(refused).toBe(4430)
    await expect.poll(() => gateway.stats().connections).toBe(21)
  })

  it('a frame without its logical connection id closes the socket with 4400; closing the socket ends every logical connection', async () => {
    const gateway = await startGateway(registry)
    const a = await muxSocket(gateway.url)
    a.send('t1', { type: 'hello', v: 1 })
    await a.next((m) => m.startsWith('t1|{"type":"welcome"'))
    a.ws.close()
    await expect.poll(() => gateway.stats().connections).toBe(0)
    const b = await muxSocket(gateway.url)
    b.ws.send('{"type":"hello","v":1}')
    expect((await b.closed).code).toBe(4400)
  })
})
