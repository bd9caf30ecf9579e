import { deepEqual } from '../equal'
import { getKey } from '../records'
import type { SessionView } from '../state'
import type { Mutable, StateWriter } from '../writer'
import { NONE, type EntityReducer } from './entity'

/**
 * `state.sessions`: each `session.status` is a full report and replaces the session's view
 * (keeping who is in it); `session.user.joined` / `.left` keep the session's `users`. A user
 * joining a session no status was reported for creates it with status `unknown`.
 */
export const sessions = {
  'session.status': (w, p) => {
    const next: Mutable<SessionView> = { id: p.sessionId, status: p.status }
    const users = getKey(w.state.sessions, p.sessionId)?.users
    if (users !== undefined) next.users = users
    if (p.progress !== undefined) next.progress = p.progress
    if (p.message !== undefined) next.message = p.message
    if (p.timestamp !== undefined) next.timestamp = p.timestamp
    const prev = getKey(w.state.sessions, p.sessionId)
    if (prev && deepEqual(prev, next)) return
    w.set('sessions', p.sessionId, next)
  },
  'session.user.joined': (w, p) => presence(w, p.sessionId, p.userId, true),
  'session.user.left': (w, p) => presence(w, p.sessionId, p.userId, false),
} satisfies EntityReducer

function presence(w: StateWriter, id: string, user: string, present: boolean): void {
  const prev = getKey(w.state.sessions, id)
  const users = prev?.users ?? NONE
  if (users.includes(user) === present) return
  const session = prev ? w.own(prev) : w.adopt<SessionView>({ id, status: 'unknown' })
  session.users = present ? [...users, user] : users.filter((u) => u !== user)
  w.set('sessions', id, session)
}
