import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Server, type Socket } from 'socket.io'

/** A Socket.IO server on 127.0.0.1, port 0, with the counters every seed server keeps. */
export async function startSocketIoServer(): Promise<{
  io: Server
  url: string
  sockets: Set<Socket>
  counters: { accepted: number }
  dropAll(): void
  close(): Promise<void>
}> {
  const http = createServer()
  const io = new Server(http, { cors: { origin: '*' } })
  const sockets = new Set<Socket>()
  const counters = { accepted: 0 }
  io.on('connection', (socket) => {
    counters.accepted++
    sockets.add(socket)
    socket.on('disconnect', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()))
  const { port } = http.address() as AddressInfo
  return {
    io,
    url: `http://127.0.0.1:${port}`,
    sockets,
    counters,
    dropAll() {
      // Close the transport under each socket: the client sees "transport close", as when a
      // server process dies or a proxy cuts the link, not a polite Socket.IO disconnect.
      for (const socket of sockets) socket.conn.close()
    },
    close: () =>
      new Promise<void>((resolve) => {
        io.close(() => resolve())
      }),
  }
}
