// Bare subscribers for the publish floor: `n` raw sockets SUBSCRIBEd to the floor's channel that
// read and drop what Redis sends, standing in for the two gateways of the publish case, so the
// floor pays the same fan-out in Redis (one more socket write per subscriber and event).
// argv: redisUrl, n, channel.
import { createConnection } from 'node:net'
import { report } from '../lib.mjs'

const [u, n = '2', channel = 'bench:floor'] = process.argv.slice(2)
const url = new URL(u)
const sockets = []
for (let i = 0; i < Number(n); i++) {
  const socket = createConnection(Number(url.port), url.hostname)
  await new Promise((r) => socket.once('connect', r))
  const confirmed = new Promise((r) => socket.once('data', r))
  socket.write(`*2\r\n$9\r\nSUBSCRIBE\r\n$${Buffer.byteLength(channel)}\r\n${channel}\r\n`)
  await confirmed
  socket.on('data', () => undefined)
  sockets.push(socket)
}
report({ type: 'ready' })
process.on('SIGTERM', () => (sockets.forEach((s) => s.destroy()), process.exit(0)))
