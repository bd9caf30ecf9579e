import { createLogUpdate } from 'log-update'
import type { Writable } from 'node:stream'

/** A terminal area redrawn in place, at most every `intervalMs`, with the latest text only. */
export interface Screen {
  /** Asks for a redraw; `render` is called when the frame is due, not now. */
  invalidate(): void
  /** Draws one last time and leaves the output on screen. */
  done(): void
}

export function createScreen(stream: Writable & { columns?: number; rows?: number }, render: (width: number) => string, intervalMs = 100): Screen {
  // A terminal that reports no size (a bare pty) would make log-update cut every line: assume 80×24.
  const sized = {
    get columns() {
      return stream.columns || 80
    },
    get rows() {
      return stream.rows || 24
    },
    write: (text: string) => stream.write(text),
  }
  const log = createLogUpdate(sized as unknown as NodeJS.WriteStream, { showCursor: false })
  let timer: ReturnType<typeof setTimeout> | undefined
  let last = 0
  let finished = false
  const draw = () => {
    timer = undefined
    last = Date.now()
    log(render(sized.columns))
  }
  const onResize = () => draw()
  stream.on('resize', onResize)
  return {
    invalidate() {
      if (finished || timer) return
      // Redraws are coalesced: a burst of events costs one frame.
      timer = setTimeout(draw, Math.max(0, intervalMs - (Date.now() - last)))
    },
    done() {
      if (finished) return
      finished = true
      if (timer) clearTimeout(timer)
      stream.off('resize', onResize)
      draw()
      log.done()
    },
  }
}
