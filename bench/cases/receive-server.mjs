// Sends N canonical events as fast as the socket takes them, to one client.
// argv: mode (native | socketio), n
import { createServer } from 'node:http'
import { WebSocketServer } from 'ws'
import { eventFrames, report } from '../lib.mjs'

const [mode, nArg] = process.argv.slice(2)
const n = Number(nArg)
const { frames, channels } = eventFrames(n)
const HIGH_WATER = 4 << 20

// Writes in corked batches, so the server is not the bottleneck: one syscall per batch.
function blast(send, buffered, socket) {
  let i = 0
  const pump = () => {
    while (i < frames.length) {
      if (buffered() > HIGH_WATER) return void setImmediate(pump)
      socket.cork()
      for (const end = Math.min(frames.length, i + 256); i < end; ) send(frames[i++])
      socket.uncork()
    }
  }
  pump()
}

const http = createServer()
if (mode === 'socketio') {
  const { Server } = await import('socket.io')
  const objects = frames.map((f) => JSON.parse(f))
  const io = new Server(http, { perMessageDeflate: false })
  io.on('connection', (socket) => {
    socket.once('go', () => {
      const raw = socket.conn.transport.socket ?? null
      let i = 0
      const pump = () => {
        while (i < objects.length) {
          if ((raw?.bufferedAmount ?? 0) > HIGH_WATER || socket.conn.writeBuffer.length > 1024) return void setTimeout(pump, 1)
          socket.emit('event', objects[i++])
        }
      }
      pump()
    })
  })
} else {
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false, maxPayload: 1 << 20 })
  wss.on('connection', (ws) => {
    ws.once('message', (data) => {
      const hello = JSON.parse(String(data))
      // The agentwire client sends hello with its subscriptions; raw clients send a bare hello.
      const subs = (hello.resume ?? []).map((s) => ({ ok: true, channel: s.channel, recovered: false }))
      ws.send(JSON.stringify({ type: 'welcome', v: 1, session: 's1', heartbeatMs: 60_000, subscriptions: subs }))
      // Positions start here: one empty snapshot per channel, then the events.
      for (const channel of channels) ws.send(JSON.stringify({ type: 'state', channel, epoch: 'bench', seq: 0, reason: 'initial', state: {} }))
      ws.on('message', (d) => {
        const f = JSON.parse(String(d))
        if (f.type === 'ping') ws.send(JSON.stringify({ type: 'pong', t: f.t }))
        if (f.type === 'subscribe') ws.send(JSON.stringify({ type: 'reply', id: f.id, ok: true, result: { channels: f.channels.map((c) => ({ ok: true, channel: c.channel, recovered: false })) } }))
      })
      blast((t) => ws.send(t), () => ws.bufferedAmount, ws._socket)
    })
  })
}
http.listen(0, '127.0.0.1', () => report({ type: 'listening', port: http.address().port }))
process.on('SIGTERM', () => process.exit(0))
