import { deepEqual } from '../equal'
import type { NotificationView } from '../state'
import type { Mutable, StateWriter } from '../writer'
import type { EntityReducer } from './entity'

/** `state.notifications`: newest last, bounded; an exact repeat of the newest with a timestamp is dropped. */
export const notifications = {
  'system.notification': (w, p) => {
    const entry: Mutable<NotificationView> = { level: p.level, message: p.message }
    if (p.title !== undefined) entry.title = p.title
    if (p.details !== undefined) entry.details = p.details
    if (p.sessionId !== undefined) entry.sessionId = p.sessionId
    if (p.userId !== undefined) entry.userId = p.userId
    if (p.timestamp !== undefined) entry.timestamp = p.timestamp
    notify(w, entry)
  },
  'request.error': (w, p) => {
    // With a `requestId` it fails that request: `requests` takes it.
    if (p.requestId !== undefined) return
    const details: { agent?: string; step?: number } = {}
    if (p.agent !== undefined) details.agent = p.agent
    if (p.step !== undefined) details.step = p.step
    notify(w, { level: 'error', message: p.message, details })
  },
} satisfies EntityReducer

function notify(w: StateWriter, entry: NotificationView): void {
  const list = w.state.notifications
  const last = list[list.length - 1]
  if (entry.timestamp !== undefined && last && deepEqual(last, entry)) return
  w.append('notifications', entry)
}
