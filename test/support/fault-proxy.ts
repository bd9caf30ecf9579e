import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net'

/**
 * A TCP fault proxy for tests (the Toxiproxy idea in ~250 lines of `node:net`), controlled
 * in-process, with an event log. Put it between a client and a gateway, or between a gateway
 * and Redis: it only sees bytes, so it works for any protocol.
 *
 * Modes decide what happens to each chunk and each new connection; shaping (latency,
 * bandwidth, slicing, a byte limit) applies on top of `pass`. `reset()` and `fin()` act once
 * on the connections open now. `flap()` runs a seeded schedule of modes, so a failing run can
 * be replayed from its seed.
 *
 * Directions: `up` is client → target, `down` is target → client.
 */
export type FaultMode =
  /** Forward both ways. */
  | 'pass'
  /** Keep every socket open and drop every chunk both ways: a half-open link, no FIN, no RST. */
  | 'blackhole'
  /** Drop client → target only (pings leave, nothing arrives). */
  | 'freeze-up'
  /** Drop target → client only (pongs never come back). */
  | 'freeze-down'
  /** Stop reading from the target: backpressure builds up in the target's socket buffers. */
  | 'stall-reader'
  /** New connections are accepted and never forwarded (no HTTP 101 ever comes). */
  | 'hold'
  /** New connections are reset on accept (ECONNRESET), like a closed port. */
  | 'refuse'

export interface ShapeOptions {
  /** One-way delay per chunk, in ms; each direction keeps its order. @default 0 */
  latencyMs?: number
  /** Uniform ± jitter around `latencyMs`, in ms. @default 0 */
  jitterMs?: number
  /** Bytes per second per direction (a token bucket over the write schedule). @default unlimited */
  bytesPerSecond?: number
  /** Split every chunk into random pieces of this size range, each written on its own. @default none */
  slice?: { min: number; max: number }
  /** Cut a connection (destroy both sockets) once it has carried this many bytes. @default none */
  limitBytes?: number
}

export type ProxyEvent =
  | { t: number; kind: 'connect'; id: number }
  | { t: number; kind: 'close'; id: number; up: number; down: number; why: string }
  | { t: number; kind: 'mode'; mode: FaultMode | 'reset' | 'fin'; shape?: ShapeOptions }

export interface FlapOptions {
  /** Seed of the PRNG that picks every step: the same seed gives the same schedule. */
  seed: number
  /** Faults to pick from; a `pass` step follows each. `reset`/`fin` cut the open links, then refuse new ones for the step. @default ['reset', 'fin', 'blackhole'] */
  faults?: Array<'reset' | 'fin' | 'blackhole' | 'freeze-up' | 'freeze-down' | 'refuse'>
  /** Step durations are drawn from this range. @default { min: 200, max: 2000 } */
  durationMs?: { min: number; max: number }
}

export interface FaultProxy {
  readonly host: string
  readonly port: number
  /** `ws://host:port{path}`. */
  url(path?: string): string
  readonly mode: FaultMode
  setMode(mode: FaultMode): void
  /** New connections go to this port from now on (a rolling restart behind a balancer); open ones stay. */
  retarget(port: number): void
  /** Replaces the shaping of `pass` (latency, bandwidth, slicing, byte limit). */
  shape(options: ShapeOptions): void
  /** TCP RST on both sides of every open connection. */
  reset(): void
  /** FIN on both sides of every open connection, without any WebSocket close frame. */
  fin(): void
  /** Starts a seeded schedule of faults; returns its stop, which returns the proxy to `pass`. */
  flap(options: FlapOptions): () => void
  /** Connections open through the proxy now. */
  open(): number
  /** Time (Date.now) the last chunk was written towards the client, or 0. */
  readonly lastDownAt: number
  /** Time (Date.now) the last chunk was written towards the target, or 0. */
  readonly lastUpAt: number
  readonly log: readonly ProxyEvent[]
  /** Counters over the proxy's life (the log keeps only the last 20,000 events). */
  readonly totals: { connections: number; bytesUp: number; bytesDown: number; modeChanges: number }
  close(): Promise<void>
}

interface Link {
  id: number
  client: Socket
  target: Socket | undefined
  up: number
  down: number
  closed: boolean
  /** A side that closed while its FIN could not travel. */
  pendingClose?: 'client' | 'target'
  /** Write schedules per direction: when the last queued piece is due, and the queue itself. */
  dueUp: number
  dueDown: number
  queueUp: Array<{ due: number; piece: Buffer }>
  queueDown: Array<{ due: number; piece: Buffer }>
  pumping: { up: boolean; down: boolean }
}

/** mulberry32: small, fast, and good enough to make a schedule reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const MAX_LOG = 20_000

export async function startFaultProxy(target: { host?: string; port: number }, options: { seed?: number } = {}): Promise<FaultProxy> {
  const targetHost = target.host ?? '127.0.0.1'
  let targetPort = target.port
  const random = prng(options.seed ?? 1)
  const links = new Set<Link>()
  const log: ProxyEvent[] = []
  const totals = { connections: 0, bytesUp: 0, bytesDown: 0, modeChanges: 0 }
  let mode: FaultMode = 'pass'
  let shaping: ShapeOptions = {}
  let nextId = 1
  let lastDownAt = 0
  let lastUpAt = 0
  const timers = new Set<ReturnType<typeof setTimeout>>()

  const record = (event: ProxyEvent) => {
    if (event.kind === 'mode') totals.modeChanges++
    if (log.length >= MAX_LOG) log.splice(0, log.length - MAX_LOG + 1)
    log.push(event)
  }
  const later = (ms: number, fn: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer)
      fn()
    }, ms)
    timers.add(timer)
  }

  function end(link: Link, why: string, how: 'reset' | 'fin' | 'destroy'): void {
    if (link.closed) return
    link.closed = true
    links.delete(link)
    record({ t: Date.now(), kind: 'close', id: link.id, up: link.up, down: link.down, why })
    for (const s of [link.client, link.target]) {
      if (!s || s.destroyed) continue
      if (how === 'reset') s.resetAndDestroy()
      else if (how === 'fin') {
        s.end()
        // A peer that never answers the FIN must not keep the socket forever.
        later(2000, () => s.destroy())
      } else s.destroy()
    }
  }

  /**
   * One side closed. A FIN or RST travels like data: across a black hole (or a frozen
   * direction) it does not arrive, so the other side stays open, half-open, until the link
   * heals (then it is cut) or that side gives up by itself.
   */
  function closedSide(link: Link, side: 'client' | 'target'): void {
    const travels = side === 'client' ? 'up' : 'down'
    if (blocked(travels)) {
      link.pendingClose = side
      return
    }
    end(link, `${side} closed`, 'destroy')
  }

  const blocked = (dir: 'up' | 'down') => mode === 'blackhole' || (mode === 'freeze-up' && dir === 'up') || (mode === 'freeze-down' && dir === 'down')

  const stamp = (dir: 'up' | 'down') => {
    if (dir === 'down') lastDownAt = Date.now()
    else lastUpAt = Date.now()
  }

  /** Writes the due pieces of one direction in order, then sleeps until the next is due. */
  function pump(link: Link, dir: 'up' | 'down'): void {
    if (link.pumping[dir]) return
    const queue = dir === 'up' ? link.queueUp : link.queueDown
    const to = dir === 'up' ? link.target : link.client
    const head = queue[0]
    if (!head || !to) return
    link.pumping[dir] = true
    later(Math.max(0, head.due - Date.now()), () => {
      link.pumping[dir] = false
      if (link.closed || to.destroyed) return
      const now = Date.now()
      let wrote = false
      while (queue.length > 0 && queue[0]!.due <= now + 1) {
        to.write(queue.shift()!.piece)
        wrote = true
      }
      if (wrote) stamp(dir)
      pump(link, dir)
    })
  }

  /** Writes `chunk` in the `up` or `down` direction, through the shaping of `pass`. */
  function forward(link: Link, chunk: Buffer, dir: 'up' | 'down'): void {
    const to = dir === 'up' ? link.target : link.client
    if (!to || link.closed) return
    if (blocked(dir)) return
    let piece = chunk
    const limit = shaping.limitBytes
    if (limit !== undefined && link.up + link.down + chunk.length > limit) piece = chunk.subarray(0, Math.max(0, limit - link.up - link.down))
    if (dir === 'up') link.up += piece.length
    else link.down += piece.length
    if (dir === 'up') totals.bytesUp += piece.length
    else totals.bytesDown += piece.length
    const pieces: Buffer[] = []
    const { slice } = shaping
    if (slice) {
      for (let at = 0; at < piece.length; ) {
        const n = slice.min + Math.floor(random() * (slice.max - slice.min + 1))
        pieces.push(piece.subarray(at, at + n))
        at += n
      }
    } else if (piece.length > 0) pieces.push(piece)
    const cut = piece.length < chunk.length
    const latency = shaping.latencyMs ?? 0
    const shaped = latency > 0 || shaping.bytesPerSecond !== undefined
    if (!shaped) {
      for (const p of pieces) to.write(p)
      if (pieces.length > 0) stamp(dir)
      if (cut) end(link, 'limit', 'destroy')
      return
    }
    // One delay per chunk (its slices share it), never earlier than the piece ahead of it, and
    // one timer per direction draining a FIFO: separate timers may fire out of order.
    const now = Date.now()
    const jitter = (shaping.jitterMs ?? 0) * (random() * 2 - 1)
    const queue = dir === 'up' ? link.queueUp : link.queueDown
    let prev = dir === 'up' ? link.dueUp : link.dueDown
    for (const p of pieces) {
      let due = Math.max(now + Math.max(0, latency + jitter), prev)
      if (shaping.bytesPerSecond) due = Math.max(due, prev + (p.length * 1000) / shaping.bytesPerSecond)
      prev = due
      queue.push({ due, piece: p })
    }
    if (dir === 'up') link.dueUp = prev
    else link.dueDown = prev
    pump(link, dir)
    if (cut) later(Math.max(link.dueUp, link.dueDown) - Date.now() + 1, () => end(link, 'limit', 'destroy'))
  }

  const server: Server = createServer({ pauseOnConnect: false }, (client) => {
    const link: Link = { id: nextId++, client, target: undefined, up: 0, down: 0, closed: false, dueUp: 0, dueDown: 0, queueUp: [], queueDown: [], pumping: { up: false, down: false } }
    totals.connections++
    record({ t: Date.now(), kind: 'connect', id: link.id })
    client.on('error', () => undefined)
    client.setNoDelay(true)
    if (mode === 'refuse') {
      record({ t: Date.now(), kind: 'close', id: link.id, up: 0, down: 0, why: 'refused' })
      client.resetAndDestroy()
      return
    }
    links.add(link)
    client.on('close', () => closedSide(link, 'client'))
    if (mode === 'hold') {
      // Read and drop: the handshake never reaches the target, nothing ever comes back.
      client.on('data', () => undefined)
      return
    }
    const upstream = connect(targetPort, targetHost)
    link.target = upstream
    upstream.setNoDelay(true)
    upstream.on('error', () => undefined)
    upstream.on('close', () => closedSide(link, 'target'))
    // Bytes that arrive before the target answers wait in the socket's own write buffer.
    client.on('data', (chunk: Buffer) => forward(link, chunk, 'up'))
    upstream.on('data', (chunk: Buffer) => forward(link, chunk, 'down'))
    if (mode === 'stall-reader') upstream.pause()
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const port = (server.address() as AddressInfo).port

  function setMode(next: FaultMode): void {
    const was = mode
    mode = next
    record({ t: Date.now(), kind: 'mode', mode: next })
    if (was === 'stall-reader' && next !== 'stall-reader') for (const l of links) l.target?.resume()
    // A close held back by the fault now travels.
    for (const l of [...links]) {
      if (l.pendingClose && !blocked(l.pendingClose === 'client' ? 'up' : 'down')) end(l, `${l.pendingClose} closed`, 'destroy')
    }
    if (next === 'stall-reader') for (const l of links) l.target?.pause()
  }

  const proxy: FaultProxy = {
    host: '127.0.0.1',
    port,
    url: (path = '/ws') => `ws://127.0.0.1:${port}${path}`,
    get mode() {
      return mode
    },
    setMode,
    retarget(next) {
      targetPort = next
    },
    shape(next) {
      shaping = { ...next }
      record({ t: Date.now(), kind: 'mode', mode, shape: shaping })
    },
    reset() {
      record({ t: Date.now(), kind: 'mode', mode: 'reset' })
      for (const l of [...links]) end(l, 'reset', 'reset')
    },
    fin() {
      record({ t: Date.now(), kind: 'mode', mode: 'fin' })
      for (const l of [...links]) end(l, 'fin', 'fin')
    },
    flap(flapOptions) {
      const pick = prng(flapOptions.seed)
      const faults = flapOptions.faults ?? ['reset', 'fin', 'blackhole']
      const { min, max } = flapOptions.durationMs ?? { min: 200, max: 2000 }
      let stopped = false
      let faulty = false
      let timer: ReturnType<typeof setTimeout> | undefined
      const step = () => {
        if (stopped) return
        faulty = !faulty
        if (!faulty) setMode('pass')
        else {
          const fault = faults[Math.floor(pick() * faults.length)]!
          // A cut link stays down for the step: new connections are refused until the next pass.
          if (fault === 'reset') (proxy.reset(), setMode('refuse'))
          else if (fault === 'fin') (proxy.fin(), setMode('refuse'))
          else setMode(fault)
        }
        timer = setTimeout(step, min + Math.floor(pick() * (max - min + 1)))
      }
      step()
      return () => {
        stopped = true
        if (timer) clearTimeout(timer)
        setMode('pass')
      }
    },
    open: () => links.size,
    get lastDownAt() {
      return lastDownAt
    },
    get lastUpAt() {
      return lastUpAt
    },
    log,
    totals,
    async close() {
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      for (const l of [...links]) end(l, 'proxy closed', 'destroy')
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
  return proxy
}
