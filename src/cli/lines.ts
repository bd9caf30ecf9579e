import type { AgentEvent, UntypedEvent } from 'agentwire/protocol'

/** One plain line per event, for logs and pipes: `12:00:01 task:task-3#4 task.progress task-3 60% edit`. */
export function eventLine(event: AgentEvent | UntypedEvent, where: { channel: string; seq?: number | undefined; time?: number | undefined }): string {
  const time = new Date(where.time ?? Date.now()).toISOString().slice(11, 19)
  return `${time} ${where.channel}${where.seq ? `#${where.seq}` : ''} ${event.type} ${summary(event)}`.trimEnd()
}

export function summary(event: AgentEvent | UntypedEvent): string {
  switch (event.type) {
    case 'agent.status':
      return `${event.payload.name} ${event.payload.status}${event.payload.load === undefined ? '' : ` load ${Math.round(event.payload.load * 100)}%`}`
    case 'routing.decision':
      return `${event.payload.taskId} -> ${event.payload.agent.name}`
    case 'task.started':
      return `${event.payload.taskId} ${event.payload.name ?? ''} (${event.payload.agent ?? '?'})`
    case 'task.progress':
      return `${event.payload.taskId} ${Math.round(event.payload.progress)}% ${event.payload.step ?? ''}`
    case 'task.completed':
      return event.payload.taskId
    case 'task.failed':
      return `${event.payload.taskId}: ${event.payload.error.message}`
    case 'step.progress':
      return `${event.payload.requestId} step ${event.payload.step} ${event.payload.agent} ${event.payload.status}`
    case 'request.question':
      return `${event.payload.requestId} ${event.payload.questionId}: ${event.payload.question}`
    case 'system.notification':
      return `${event.payload.level}: ${event.payload.message}`
    case 'metrics.snapshot':
      return Object.entries(event.payload.values).map(([k, v]) => `${k}=${v}`).join(' ')
    default: {
      // Any other event, an untyped one from a foreign backend too: its payload may be anything.
      const p = (event.payload !== null && typeof event.payload === 'object' ? event.payload : {}) as Record<string, unknown>
      const id = p['requestId'] ?? p['taskId'] ?? p['chatId'] ?? p['collectionId'] ?? p['nodeId'] ?? p['agentId'] ?? p['sessionId']
      return typeof id === 'string' ? id : ''
    }
  }
}

/** A URL as it may be shown: no user info, no query (a token might hide in either). */
export function displayUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}${url.search ? '?…' : ''}`
}
