import type { ReceivedCommand, SeedServer } from './control'
import { startSocketIoServer } from './socketio'

/**
 * The progress seed as written: a Socket.IO server that reads `requestId` from the handshake
 * query and joins the socket to `request:{id}`; takes `start`, `cancel` and `feedback`
 * commands; streams `progress`, `agent.completed`, `error` and `request.completed` to the
 * request's room; and answers `rejoin` with `state`, the request as the server knows it.
 */
export interface ProgressEventMessage {
  type: 'progress'
  agent: string
  step: number
  status: 'running' | 'completed' | 'failed'
  data?: Record<string, unknown>
}

/** What the server remembers of one request, sent as `state` on `rejoin`. */
export interface ProgressRequestState {
  requestId: string
  status: 'running' | 'completed' | 'failed' | 'cancelled'
  userQuery?: string
  context?: Record<string, unknown>
  /** Every step's latest progress, in step order. */
  steps: ProgressEventMessage[]
  completedAgents: string[]
  result?: unknown
  error?: { agent?: string; message: string; step?: number }
}

export interface ProgressServer extends SeedServer {
  /** Emits `progress` to the request's room and records the step in the request's state. */
  progress(requestId: string, event: Omit<ProgressEventMessage, 'type'>): void
  agentCompleted(requestId: string, agent: string, data?: Record<string, unknown>): void
  error(requestId: string, agent: string, message: string, step?: number): void
  completed(requestId: string, result: unknown): void
  /** The server's record of a request. */
  request(requestId: string): ProgressRequestState | undefined
}

export async function startProgressServer(): Promise<ProgressServer> {
  const base = await startSocketIoServer()
  const received: ReceivedCommand[] = []
  const requests = new Map<string, ProgressRequestState>()
  const ensure = (requestId: string): ProgressRequestState => {
    let request = requests.get(requestId)
    if (!request) {
      request = { requestId, status: 'running', steps: [], completedAgents: [] }
      requests.set(requestId, request)
    }
    return request
  }
  const room = (requestId: string) => base.io.to(`request:${requestId}`)

  base.io.on('connection', (socket) => {
    const requestId = socket.handshake.query.requestId
    if (typeof requestId === 'string' && requestId !== '') void socket.join(`request:${requestId}`)
    socket.on('start', (data: { requestId?: string; userQuery?: string; context?: Record<string, unknown> }) => {
      received.push({ type: 'start', data })
      if (typeof data?.requestId !== 'string') return
      const request = ensure(data.requestId)
      request.userQuery = data.userQuery
      request.context = data.context
      void socket.join(`request:${data.requestId}`)
    })
    socket.on('cancel', (data: { requestId?: string }) => {
      received.push({ type: 'cancel', data })
      if (typeof data?.requestId === 'string') ensure(data.requestId).status = 'cancelled'
    })
    socket.on('feedback', (data: unknown) => received.push({ type: 'feedback', data }))
    socket.on('rejoin', (data: { requestId?: string }) => {
      received.push({ type: 'rejoin', data })
      if (typeof data?.requestId !== 'string') return
      void socket.join(`request:${data.requestId}`)
      socket.emit('state', structuredClone(ensure(data.requestId)))
    })
  })

  return {
    url: base.url,
    get accepted() {
      return base.counters.accepted
    },
    received,
    connections: () => base.sockets.size,
    progress(requestId, event) {
      const message: ProgressEventMessage = { type: 'progress', ...event }
      const request = ensure(requestId)
      request.steps = [...request.steps.filter((s) => s.step !== event.step), message].sort((a, b) => a.step - b.step)
      // The seed's progress message has no requestId: the room says which request it is.
      room(requestId).emit('progress', message)
    },
    agentCompleted(requestId, agent, data) {
      ensure(requestId).completedAgents.push(agent)
      room(requestId).emit('agent.completed', { type: 'agent.completed', agent, requestId, data })
    },
    error(requestId, agent, message, step) {
      const request = ensure(requestId)
      request.status = 'failed'
      request.error = { agent, message, step }
      room(requestId).emit('error', { type: 'error', agent, message, step })
    },
    completed(requestId, result) {
      const request = ensure(requestId)
      request.status = 'completed'
      request.result = result
      room(requestId).emit('request.completed', { type: 'request.completed', requestId, result })
    },
    request: (requestId) => requests.get(requestId),
    dropAll: base.dropAll,
    close: base.close,
  }
}
