/**
 * How a Socket.IO transport hands a codec the answer to one of its emits. Socket.IO answers
 * an emit through its acknowledgement callback, not with an event, so the transport passes
 * the answer in as this object: the very frame array the codec encoded (codecs key their
 * pending commands by it), and what the server passed to the callback, or `timedOut` when it
 * passed nothing within the transport's wait (a server that does not acknowledge).
 */
export interface SocketIoAck {
  readonly type: typeof SOCKET_IO_ACK
  readonly frame: readonly unknown[]
  readonly response?: readonly unknown[]
  readonly timedOut: boolean
}

export const SOCKET_IO_ACK = 'socket.io:ack'

export function isSocketIoAck(frame: unknown): frame is SocketIoAck {
  return frame !== null && typeof frame === 'object' && !Array.isArray(frame) && (frame as { type?: unknown }).type === SOCKET_IO_ACK && Array.isArray((frame as { frame?: unknown }).frame)
}
