import { deepEqual } from '../equal'
import { getKey } from '../records'
import type { SessionView } from '../state'
import type { Mutable } from '../writer'
import type { EntityReducer } from './entity'

/** `state.sessions`: each `session.status` is a full report and replaces the session's view. */
export const sessions = {
  'session.status': (w, p) => {
    const next: Mutable<SessionView> = { id: p.sessionId, status: p.status }
    if (p.progress !== undefined) next.progress = p.progress
    if (p.message !== undefined) next.message = p.message
    if (p.timestamp !== undefined) next.timestamp = p.timestamp
    const prev = getKey(w.state.sessions, p.sessionId)
    if (prev && deepEqual(prev, next)) return
    w.set('sessions', p.sessionId, next)
  },
} satisfies EntityReducer
