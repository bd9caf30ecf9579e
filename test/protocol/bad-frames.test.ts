import { describe, expect, it } from 'vitest'
import { ProtocolError, decodeClientFrame, dialects, encodeServerFrame, parseJson, sanitizeValue } from 'agentwire/protocol'

/**
 * RELIABILITY B1–B4 at the decoder: every bad frame becomes a typed ProtocolError that says what
 * was expected and what came; nothing throws; nothing reaches a prototype.
 */

const decode = (frame: unknown) => dialects.agentwire.decode(frame)

const event = (patch: Record<string, unknown> = {}, payload: Record<string, unknown> = { name: 'planner', status: 'busy', load: 0.5 }) =>
  JSON.stringify({ type: 'event', channel: 'agent:planner', epoch: 'e1', seq: 7, event: { type: 'agent.status', payload }, ...patch })

const deep = (n: number) => '['.repeat(n) + ']'.repeat(n)

function expectError(result: { ok: boolean; error?: unknown }, code: string, message: string | RegExp) {
  expect(result.ok).toBe(false)
  const error = (result as { error: ProtocolError }).error
  expect(error).toBeInstanceOf(ProtocolError)
  expect(error.code).toBe(code)
  if (typeof message === 'string') expect(error.message).toBe(message)
  else expect(error.message).toMatch(message)
}

describe('bad frames from the server become typed errors (B1, B2)', () => {
  const table: Array<[string, unknown, string, string | RegExp]> = [
    ['truncated JSON', '{"type":"event","chan', 'bad_request', 'expected JSON text, got 21 characters that are not valid JSON'],
    ['non-JSON text', 'hello there', 'bad_request', 'expected JSON text, got 11 characters that are not valid JSON'],
    ['an empty frame', '', 'bad_request', 'expected JSON text, got an empty frame'],
    ['a binary ArrayBuffer frame', new ArrayBuffer(4), 'bad_request', 'expected a text frame, got a binary frame (4 bytes)'],
    ['a binary Buffer frame', Buffer.from('{"type":"ping"}'), 'bad_request', 'expected a text frame, got a binary frame (15 bytes)'],
    ['a binary Uint8Array frame', new Uint8Array(3), 'bad_request', 'expected a text frame, got a binary frame (3 bytes)'],
    ['a Blob', new Blob(['abc']), 'bad_request', 'expected a text frame, got a binary frame (Blob, 3 bytes)'],
    ['null instead of text', null, 'bad_request', 'expected a text frame, got null'],
    ['a number instead of text', 42, 'bad_request', 'expected a text frame, got number'],
    ['a JSON array', '[1,2]', 'bad_request', 'expected a server frame object, got array'],
    ['a JSON string', '"ping"', 'bad_request', 'expected a server frame object, got string'],
    ['a frame without type', '{}', 'bad_request', 'expected a server frame with a string "type", got nothing'],
    ['a numeric type', '{"type":3}', 'bad_request', 'expected a server frame with a string "type", got number'],
    ['seq as a string', event({ seq: '7' }), 'bad_request', '"event" expects seq to be a finite number, got string'],
    ['seq as a fraction', event({ seq: 7.5 }), 'bad_request', '"event" expects seq to be an integer, got number 7.5'],
    ['seq of 0', event({ seq: 0 }), 'bad_request', '"event" expects seq to be at least 1, got 0'],
    ['seq of 1e999 (Infinity)', event().replace('"seq":7', '"seq":1e999'), 'bad_request', '"event" expects seq to be a finite number, got Infinity'],
    ['load of 1e999 (Infinity)', event().replace('"load":0.5', '"load":1e999'), 'bad_request', '"event" expects event.payload.load to be a finite number, got Infinity'],
    ['load of -1e999 (-Infinity)', event().replace('"load":0.5', '"load":-1e999'), 'bad_request', '"event" expects event.payload.load to be a finite number, got -Infinity'],
    ['missing payload', JSON.stringify({ type: 'event', channel: 'agent:a', epoch: 'e', seq: 1, event: { type: 'agent.status' } }), 'bad_request', '"event" expects event.payload to be an object, got nothing'],
    // Status words are an open vocabulary (a foreign backend's "paused" is republished as it came); an empty or non-text one is still refused.
    ['an empty status', event({}, { name: 'planner', status: '' }), 'bad_request', '"event" expects event.payload.status to be at least 1 characters, got 0'],
    ['a status that is not text', event({}, { name: 'planner', status: 3 }), 'bad_request', '"event" expects event.payload.status to be a string, got number'],
    ['channel as a number', event({ channel: 7 }), 'bad_request', '"event" expects channel to be a string, got number'],
    ['an event that is not an object', event({ event: [1] }), 'bad_request', '"event" expects event to be an object, got array'],
    ['an event without a type', event({ event: { payload: {} } }), 'bad_request', '"event" expects event.type to be a string, got nothing'],
    ['a reply with ok as a string', '{"type":"reply","id":"1","ok":"yes"}', 'bad_request', '"reply" expects ok to be one of true, false, got "yes"'],
    ['a welcome without session', '{"type":"welcome","v":1,"heartbeatMs":1000}', 'bad_request', '"welcome" expects session to be a string, got nothing'],
    ['a state frame with a bad reason', '{"type":"state","channel":"agent:a","epoch":"e","seq":3,"reason":"because","state":{}}', 'bad_request', '"state" expects reason to be one of initial, window, epoch, gap, rejoin, got "because"'],
    ['several problems at once', event({ seq: 'x', epoch: 5 }), 'bad_request', /^"event" expects epoch to be a string, got number \(and 1 more problem\)$/],
    ['nesting 10,000 deep', deep(10_000), 'bad_request', 'expected JSON nested at most 64 levels deep, got more than 64'],
    ['nesting 10,000 deep inside a payload', event({}, { name: 'a', status: 'busy', agent: JSON.parse('{"x":1}'), deep: 0 }).replace('"deep":0', `"deep":${deep(10_000)}`), 'bad_request', 'expected JSON nested at most 64 levels deep, got more than 64'],
    ['a multi-megabyte string', JSON.stringify({ type: 'ping', t: 1, pad: 'x'.repeat(3 * 1024 * 1024) }), 'payload_too_large', /^expected a frame of at most 1048576 characters, got 31457\d\d$/],
  ]

  it.each(table)('%s', (_name, frame, code, message) => {
    expectError(decode(frame), code, message)
  })

  it('never quotes the frame in a JSON error (errors are logged and sent back)', () => {
    const r = decode('{"token":"secret-value"')
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.error.message).not.toContain('secret')
  })

  it('delivers valid frames after bad ones', () => {
    for (const [, frame] of table) decode(frame)
    expect(decode(event())).toEqual({
      ok: true,
      messages: [{ type: 'event', channel: 'agent:planner', epoch: 'e1', seq: 7, event: { type: 'agent.status', payload: { name: 'planner', status: 'busy', load: 0.5 } } }],
    })
  })

  it('does not count brackets inside strings towards the depth', () => {
    const r = decode(event({}, { name: 'planner', status: 'busy' }).replace('"planner","status"', `"${'['.repeat(500)}","status"`))
    expect(r.ok).toBe(true)
  })

  it('accepts nesting at the limit and refuses one more', () => {
    expect(parseJson(deep(64)).ok).toBe(true)
    expectError(parseJson(deep(65)), 'bad_request', 'expected JSON nested at most 64 levels deep, got more than 64')
    expect(parseJson(deep(100), { maxDepth: 100 }).ok).toBe(true)
    expectError(parseJson('"abcdef"', { maxLength: 5 }), 'payload_too_large', 'expected a frame of at most 5 characters, got 8')
  })
})

describe('unknown types and fields (B3)', () => {
  it('skips a server frame of an unknown type, naming it', () => {
    expect(decode('{"type":"presence","who":"a"}')).toEqual({ ok: true, messages: [], unknown: 'presence' })
  })

  it('passes an event of a type nobody registered on untyped, with its position (forward compatible)', () => {
    const decoded = decode(event({ event: { type: 'agent.teleported', payload: { to: 'mars' } } }))
    expect(decoded).toMatchObject({ ok: true, messages: [{ type: 'event', event: { type: 'agentwire:agent.teleported', payload: { to: 'mars' }, untyped: true } }] })
    expect(decoded.ok && 'unknown' in decoded).toBe(false)
  })

  it('strips unknown fields from what handlers see', () => {
    const r = decode(event({ extra: 1 }, { name: 'planner', status: 'busy', mood: 'happy' }))
    expect(r.ok && r.messages[0]).toEqual({ type: 'event', channel: 'agent:planner', epoch: 'e1', seq: 7, event: { type: 'agent.status', payload: { name: 'planner', status: 'busy' } } })
  })

  it('refuses an unknown client frame type at the gateway (answered with 4400)', () => {
    expectError(decodeClientFrame('{"type":"teleport"}'), 'unknown_type', /^unknown client frame type "teleport": expected one of hello, auth, subscribe/)
  })
})

describe('client frames at the gateway', () => {
  it('decodes a subscribe frame', () => {
    expect(decodeClientFrame('{"type":"subscribe","id":"1","channels":[{"channel":"agent:planner"}]}')).toEqual({
      ok: true,
      frame: { type: 'subscribe', id: '1', channels: [{ channel: 'agent:planner' }] },
    })
  })

  it.each([
    ['a channel as a number', '{"type":"subscribe","id":"1","channels":[{"channel":7}]}', '"subscribe" expects channels[0].channel to be a string, got number'],
    ['no channels', '{"type":"subscribe","id":"1","channels":[]}', '"subscribe" expects channels to be at least 1 items, got 0'],
    ['a hello with v as a string', '{"type":"hello","v":"1"}', '"hello" expects v to be a finite number, got string'],
    ['a start without query', '{"type":"start","id":"1","requestId":"r"}', '"start" expects query to be a string, got nothing'],
    ['binary', new Uint8Array([1, 2]), 'expected a text frame, got a binary frame (2 bytes)'],
  ])('refuses %s', (_name, frame, message) => {
    expectError(decodeClientFrame(frame), 'bad_request', message)
  })

  it('encodes a server frame as JSON text', () => {
    expect(encodeServerFrame({ type: 'pong', t: 5 })).toBe('{"type":"pong","t":5}')
  })
})

describe('encoding client commands', () => {
  it('encodes a valid command as JSON text', () => {
    expect(dialects.agentwire.encode({ type: 'cancel', id: 'c1', requestId: 'req-1' })).toEqual({ ok: true, frame: '{"type":"cancel","id":"c1","requestId":"req-1"}' })
  })

  it('refuses an invalid command with a typed error instead of sending it', () => {
    const r = dialects.agentwire.encode({ type: 'cancel', id: '', requestId: 'r' })
    expectError(r, 'bad_request', '"cancel" expects id to be at least 1 characters, got 0')
  })
})

// ── B4 ────────────────────────────────────────────────────────────────────────────────

const FORBIDDEN = ['__proto__', 'constructor', 'prototype']

/** Every object inside `value` (iteratively), so a test can check each one. */
function objectsIn(value: unknown): object[] {
  const out: object[] = []
  const stack = [value]
  while (stack.length) {
    const v = stack.pop()
    if (v === null || typeof v !== 'object') continue
    out.push(v)
    for (const k of Object.keys(v)) stack.push((v as Record<string, unknown>)[k])
  }
  return out
}

function expectClean(value: unknown) {
  for (const o of objectsIn(value)) {
    for (const k of FORBIDDEN) expect(Object.prototype.hasOwnProperty.call(o, k), `own key ${k}`).toBe(false)
    const proto = Object.getPrototypeOf(o)
    expect(proto === Object.prototype || proto === Array.prototype || proto === null).toBe(true)
  }
}

/** `{"k":{"k":...{"polluted":"yes"}}}` with the key at `depth` levels. */
function nested(key: string, depth: number, leaf = '{"polluted":"yes"}'): string {
  let s = leaf
  for (let i = 0; i < depth; i++) s = `{"${key}":${s},"ok":${i}}`
  return s
}

describe('prototype keys at every depth (B4)', () => {
  const keys = [...FORBIDDEN, '\\u005f_proto__', 'construct\\u006fr']
  const frames: string[] = []
  for (const key of keys) {
    for (const depth of [1, 2, 5, 20]) {
      // in a canonical payload's free-form record
      frames.push(`{"type":"event","channel":"agent:a","epoch":"e","seq":1,"event":{"type":"agent.created","payload":{"agentId":"a","agent":${nested(key, depth)}}}}`)
      // at the top of a frame, beside the known fields
      frames.push(`{"${key}":{"polluted":"yes"},"type":"ping","t":1}`)
      // in an unknown-typed payload
      frames.push(`{"type":"event","channel":"request:r","epoch":"e","seq":2,"event":{"type":"request.completed","payload":{"requestId":"r","result":${nested(key, depth)}}}}`)
      // as the name of an error field and in a state snapshot
      frames.push(`{"type":"state","channel":"request:r","epoch":"e","seq":2,"reason":"rejoin","state":${nested(key, depth)}}`)
    }
  }

  it('drops them, keeps ordinary prototypes, and pollutes nothing after 10,000 frames', () => {
    let decoded = 0
    for (let i = 0; i < 10_000; i++) {
      const r = decode(frames[i % frames.length])
      expect(r.ok).toBe(true)
      if (r.ok) {
        decoded += r.messages.length
        expectClean(r.messages)
      }
    }
    expect(decoded).toBe(10_000)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.prototype).not.toHaveProperty('polluted')
  })

  it('drops them from client frames at the gateway, including subscribe params', () => {
    const r = decodeClientFrame('{"type":"start","id":"1","requestId":"r","query":"q","context":{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},"fine":{"prototype":2}}}')
    expect(r.ok).toBe(true)
    if (r.ok) {
      expectClean(r.frame)
      expect(r.frame).toEqual({ type: 'start', id: '1', requestId: 'r', query: 'q', context: { fine: {} } })
    }
    const s = decodeClientFrame('{"type":"subscribe","id":"1","channels":[{"channel":"agent:a","__proto__":{"polluted":1}}],"constructor":1}')
    expect(s.ok && s.frame).toEqual({ type: 'subscribe', id: '1', channels: [{ channel: 'agent:a' }] })
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('formats errors about fields named constructor or toString without throwing', () => {
    const r = decodeClientFrame('{"type":"subscribe","id":"1","channels":[{"channel":{"toString":1,"constructor":1}}]}')
    expectError(r, 'bad_request', '"subscribe" expects channels[0].channel to be a string, got object')
  })

  it('sanitizes values parsed elsewhere (Socket.IO packets), cycles and all', () => {
    const value = JSON.parse('[{"__proto__":{"polluted":1},"a":{"constructor":{"x":1},"b":[{"prototype":1}]}}]') as unknown[]
    ;(value[0] as Record<string, unknown>).self = value
    const r = sanitizeValue(value)
    expect(r.ok).toBe(true)
    expect(Object.keys(value[0] as object)).toEqual(['a', 'self'])
    expect((value[0] as { a: unknown }).a).toEqual({ b: [{}] })
    const tooDeep = JSON.parse(deep(10_000)) as unknown
    expectError(sanitizeValue(tooDeep), 'bad_request', 'expected a value nested at most 64 levels deep, got more than 64')
  })
})
