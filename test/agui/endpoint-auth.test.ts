import { afterEach, describe, expect, it } from 'vitest'
import { createGateway } from 'agentwire/server'

/** The AG-UI endpoint asks the gateway's authenticate (Bearer token) and authorize (a subscribe of request:{id}). */

const closers: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of closers.splice(0)) await c()
})

describe('the AG-UI endpoint: who may watch', () => {
  it('401 without a valid token, 403 for a request the principal may not see, 400 for a bad id, a stream otherwise', async () => {
    const asked: string[] = []
    const gateway = createGateway({
      port: 0,
      aguiEndpoint: true,
      authenticate: (token) => (token === 'good' ? 'alice' : null),
      authorize: (principal, channel, action) => (asked.push(`${principal.id} ${channel} ${action}`), channel !== 'request:secret'),
    })
    await gateway.ready
    closers.push(() => gateway.close({ drainMs: 0 }))
    await gateway.publish('request:r1', { type: 'request.completed', payload: { requestId: 'r1', result: 1 } })
    const base = `http://127.0.0.1:${gateway.port}/agui`
    const get = (id: string, token?: string) => fetch(`${base}/${id}`, token ? { headers: { authorization: `Bearer ${token}` } } : {})

    expect((await get('r1')).status).toBe(401)
    expect((await get('r1', 'bad')).status).toBe(401)
    expect((await get('secret', 'good')).status).toBe(403)
    expect((await get('no%20spaces', 'good')).status).toBe(400)
    const post = await fetch(base, { method: 'POST', headers: { authorization: 'Bearer good', 'content-type': 'application/json' }, body: '{not json' })
    expect(post.status).toBe(400)

    const ok = await get('r1', 'good')
    expect(ok.status).toBe(200)
    expect(ok.headers.get('content-type')).toBe('text/event-stream')
    // The request is over: the stream is the prelude and RUN_FINISHED, then it ends.
    const body = await ok.text()
    expect(body.match(/"type":"(\w+)"/g)).toEqual(['"type":"RUN_STARTED"', '"type":"MESSAGES_SNAPSHOT"', '"type":"RUN_FINISHED"'])
    expect(body).toMatch(/^id: [^\n]+:1$/m)
    expect(asked).toEqual(['alice request:secret subscribe', 'alice request:r1 subscribe'])
  })
})
