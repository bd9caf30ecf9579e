import { describe, expect, it } from 'vitest'
import { createSseParser, httpBaseFor, type SseMessage } from 'agentwire'

function parse(chunks: string[]): SseMessage[] {
  const out: SseMessage[] = []
  const parser = createSseParser((m) => out.push(m))
  for (const chunk of chunks) parser.push(chunk)
  return out
}

describe('the SSE parser the HTTP fallback reads event streams with', () => {
  it('reads named and unnamed messages, ignoring comments', () => {
    expect(parse(['event: open\ndata: {"session":"s1"}\n\n: keep-alive\n\ndata: {"type":"pong"}\n\n'])).toEqual([
      { event: 'open', data: '{"session":"s1"}' },
      { event: 'message', data: '{"type":"pong"}' },
    ])
  })

  it('reassembles a message split anywhere across chunks, including between \\r and \\n', () => {
    const text = 'data: one\r\n\r\nevent: close\r\ndata: {"code":4503}\r\n\r\n'
    const whole = parse([text])
    for (let cut = 1; cut < text.length; cut++) expect(parse([text.slice(0, cut), text.slice(cut)])).toEqual(whole)
    expect(whole).toEqual([
      { event: 'message', data: 'one' },
      { event: 'close', data: '{"code":4503}' },
    ])
  })

  it('joins several data lines with a newline and keeps an unfinished message until its blank line', () => {
    const out: SseMessage[] = []
    const parser = createSseParser((m) => out.push(m))
    parser.push('data: a\ndata: b\n')
    expect(out).toEqual([])
    parser.push('\n')
    expect(out).toEqual([{ event: 'message', data: 'a\nb' }])
  })
})

describe('where the HTTP fallback looks for the gateway', () => {
  it('swaps ws for http and drops the WebSocket path segment', () => {
    expect(httpBaseFor('ws://127.0.0.1:8787/ws')).toBe('http://127.0.0.1:8787')
    expect(httpBaseFor('wss://example.com/api/ws?x=1')).toBe('https://example.com/api')
  })
})
