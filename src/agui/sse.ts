/**
 * Server-sent events, read from a fetch body: the part of the EventSource format AG-UI uses
 * (`data:` lines, optional `id:` and `event:`, a blank line ends a frame, `:` lines are
 * comments). No dependency and no DOM: it runs in browsers, workers and Node 20.
 */
export interface SseFrame {
  readonly data: string
  readonly id?: string
  readonly event?: string
}

/** The frames of `body`, in order; ends when the body does (a frame cut off by the end is dropped). */
export async function* readSse(body: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncGenerator<SseFrame> {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  let data: string[] = []
  let id: string | undefined
  let event: string | undefined
  try {
    for (;;) {
      if (signal?.aborted) return
      const { value, done } = await reader.read()
      if (done) return
      buffer += decoder.decode(value, { stream: true })
      let end: number
      while ((end = lineEnd(buffer)) >= 0) {
        const line = buffer.slice(0, end)
        buffer = buffer.slice(buffer[end] === '\r' && buffer[end + 1] === '\n' ? end + 2 : end + 1)
        if (line === '') {
          if (data.length > 0) {
            yield { data: data.join('\n'), ...(id === undefined ? {} : { id }), ...(event === undefined ? {} : { event }) }
          }
          data = []
          event = undefined
          continue
        }
        if (line.startsWith(':')) continue
        const colon = line.indexOf(':')
        const field = colon < 0 ? line : line.slice(0, colon)
        let v = colon < 0 ? '' : line.slice(colon + 1)
        if (v.startsWith(' ')) v = v.slice(1)
        if (field === 'data') data.push(v)
        else if (field === 'id') id = v
        else if (field === 'event') event = v
      }
    }
  } finally {
    reader.releaseLock()
    void body.cancel().catch(() => undefined)
  }
}

function lineEnd(s: string): number {
  const n = s.indexOf('\n')
  const r = s.indexOf('\r')
  if (r < 0) return n
  if (n < 0) return r === s.length - 1 ? -1 : r // a lone '\r' at the end may be half of '\r\n'
  return Math.min(n, r)
}

/** One SSE frame's text: `id:` (when given) and the data, one `data:` line per line. */
export function sseFrame(data: string, id?: string | number): string {
  const head = id === undefined ? '' : `id: ${id}\n`
  return `${head}data: ${data.split('\n').join('\ndata: ')}\n\n`
}
