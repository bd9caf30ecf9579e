/**
 * A server-sent events parser over any stream of text chunks (WHATWG "text/event-stream"),
 * so the HTTP fallback reads SSE from `fetch` in browsers and Node alike without
 * `EventSource` (which cannot send headers, cannot be aborted cleanly everywhere, and
 * reconnects on its own schedule, fighting the client's backoff).
 */
export interface SseMessage {
  /** The `event:` field; `message` when absent. */
  readonly event: string
  /** Every `data:` line of the message, joined with `\n`. */
  readonly data: string
  readonly id?: string
}

/** Feeds text chunks in, calls `onMessage` for each complete message. Keeps only the unfinished tail. */
export interface SseParser {
  push(chunk: string): void
}

export function createSseParser(onMessage: (message: SseMessage) => void): SseParser {
  let buffer = ''
  let event = ''
  let data: string[] = []
  let id: string | undefined
  const dispatch = (): void => {
    if (data.length > 0) onMessage({ event: event || 'message', data: data.join('\n'), ...(id === undefined ? {} : { id }) })
    event = ''
    data = []
  }
  const line = (text: string): void => {
    if (text === '') return dispatch()
    if (text.startsWith(':')) return // a comment: the server's keep-alive
    const colon = text.indexOf(':')
    const field = colon === -1 ? text : text.slice(0, colon)
    let value = colon === -1 ? '' : text.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'event') event = value
    else if (field === 'data') data.push(value)
    else if (field === 'id') id = value
    // `retry` and unknown fields are ignored: reconnection belongs to the client.
  }
  return {
    push(chunk) {
      buffer += chunk
      // Lines end in \n, \r\n or \r; a trailing \r may be the first half of \r\n, so it waits.
      let start = 0
      for (let i = 0; i < buffer.length; i++) {
        const ch = buffer[i]
        if (ch === '\n' || ch === '\r') {
          if (ch === '\r' && i === buffer.length - 1) break
          line(buffer.slice(start, i))
          if (ch === '\r' && buffer[i + 1] === '\n') i++
          start = i + 1
        }
      }
      buffer = buffer.slice(start)
    },
  }
}
