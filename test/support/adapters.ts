import type { WebSocketConstructor } from 'agentwire'
import type { AgentEvent, AgentStatusValue, ClientFrame } from 'agentwire/protocol'

/** Events as the demo's agents publish them. */
export const agentStatus = (name: string, status: AgentStatusValue, load?: number): AgentEvent => ({
  type: 'agent.status',
  payload: load === undefined ? { name, status } : { name, status, load },
})
export const taskProgress = (taskId: string, progress: number): AgentEvent => ({ type: 'task.progress', payload: { taskId, progress } })

/** Wraps a WebSocket constructor to count the sockets a client opens. */
export function countingWebSocket(Base: WebSocketConstructor): { WebSocket: WebSocketConstructor; readonly opened: number } {
  let opened = 0
  const Counted = class extends (Base as new (url: string, protocols?: string | string[]) => object) {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols)
      opened++
    }
  } as unknown as WebSocketConstructor
  return {
    WebSocket: Counted,
    get opened() {
      return opened
    },
  }
}

/** How many times each channel was subscribed and unsubscribed in these client frames. */
export function wireCounts(frames: readonly ClientFrame[]): { subscribed: Map<string, number>; unsubscribed: Map<string, number> } {
  const subscribed = new Map<string, number>()
  const unsubscribed = new Map<string, number>()
  const bump = (m: Map<string, number>, c: string) => m.set(c, (m.get(c) ?? 0) + 1)
  for (const f of frames) {
    if (f.type === 'subscribe') for (const item of f.channels) bump(subscribed, item.channel)
    if (f.type === 'hello') for (const item of f.resume ?? []) bump(subscribed, item.channel)
    if (f.type === 'unsubscribe') for (const c of f.channels) bump(unsubscribed, c)
  }
  return { subscribed, unsubscribed }
}
