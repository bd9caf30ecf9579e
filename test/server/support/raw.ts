import { connect as netConnect, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'

/** Opens a TCP socket and completes a WebSocket handshake by hand, for frames no client library would send. */
export function rawHandshake(url: string, headers: Record<string, string> = {}): Promise<{ socket: Socket; response: string }> {
  const u = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = netConnect(Number(u.port), u.hostname)
    socket.once('error', reject)
    socket.once('connect', () => {
      const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')
      socket.write(
        `GET ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
      )
    })
    let head = ''
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1')
      const end = head.indexOf('\r\n\r\n')
      if (end === -1) return
      socket.off('data', onData)
      resolve({ socket, response: head.slice(0, end) })
    }
    socket.on('data', onData)
  })
}

/** One masked client frame. */
export function clientFrame(opcode: number, payload: Buffer, fin: boolean): Buffer {
  const mask = randomBytes(4)
  const len = payload.length
  const header = len < 126 ? Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | len]) : Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | 126, len >> 8, len & 0xff])
  const body = Buffer.alloc(len)
  for (let i = 0; i < len; i++) body[i] = payload[i]! ^ mask[i % 4]!
  return Buffer.concat([header, mask, body])
}

/** Splits what a server sent (unmasked frames) into opcodes and payloads; a partial frame at the end is ignored. */
export function serverFrames(data: Buffer): Array<{ opcode: number; payload: Buffer }> {
  const out: Array<{ opcode: number; payload: Buffer }> = []
  let at = 0
  while (at + 2 <= data.length) {
    const opcode = data[at]! & 0x0f
    let len = data[at + 1]! & 0x7f
    let head = 2
    if (len === 126) {
      if (at + 4 > data.length) break
      len = data.readUInt16BE(at + 2)
      head = 4
    } else if (len === 127) {
      if (at + 10 > data.length) break
      len = Number(data.readBigUInt64BE(at + 2))
      head = 10
    }
    if (at + head + len > data.length) break
    out.push({ opcode, payload: data.subarray(at + head, at + head + len) })
    at += head + len
  }
  return out
}
