import { describe, expect, it } from 'vitest'
import { decodeExchangeMessage } from 'agentwire/rabbitmq'
import { stepMessage } from './helpers'

describe('a message on the exchange as canonical events', () => {
  it('reads the progress seed\'s executor.step.progress as step.progress on request:{id}, with or without a type in the body', () => {
    const message = stepMessage('r-1', 3)
    const { type: _type, ...untyped } = message
    for (const body of [message, untyped]) {
      const r = decodeExchangeMessage('progress', { routingKey: 'executor.step.progress', text: JSON.stringify(body) })
      expect(r).toMatchObject({ ok: true, events: [{ channel: 'request:r-1', event: { type: 'step.progress', payload: { requestId: 'r-1', step: 3, stepId: 's3' } } }] })
    }
  })

  it('reads a webgui message under a dotted routing key as the webgui channel it names', () => {
    const text = JSON.stringify({ type: 'session_status_changed', timestamp: '2024-01-01T12:00:00Z', session_id: 'sess_1', data: { status: 'testing', progress: 45 } })
    for (const routingKey of ['webgui.session.sess_1', 'webgui:session:sess_1']) {
      expect(decodeExchangeMessage('webgui', { routingKey, text })).toMatchObject({ ok: true, events: [{ channel: 'session:sess_1', event: { type: 'session.status' } }] })
    }
  })

  it('calls text that is not JSON, and a decoder of your own that throws, malformed, with a reason that never quotes the message', () => {
    const bad = decodeExchangeMessage('progress', { routingKey: 'executor.step.progress', text: '{"token": "s3cret' })
    expect(bad.ok).toBe(false)
    expect(JSON.stringify(bad)).not.toContain('s3cret')
    const thrown = decodeExchangeMessage(() => {
      throw new Error('s3cret')
    }, { routingKey: 'x', text: '{}' })
    expect(thrown).toEqual({ ok: false, reason: 'the decoder failed' })
  })
})
