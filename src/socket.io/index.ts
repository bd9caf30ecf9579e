export { socketIoTransport, closeCodeForDisconnect } from './transport'
export type { SocketIoTransportOptions, PerConnect } from './transport'
