import { deepEqual } from './equal'
import { copyRecord, getKey, hasKey, type MutableRecord } from './records'
import { MAX_DECISIONS, MAX_NOTIFICATIONS, type AgentwireState, type KnowledgeView } from './state'

/**
 * The client's merged store and one channel's snapshot: how a `state` frame for one channel
 * replaces that channel's part of what every channel built together, keeping the identity of
 * everything it does not change.
 */

const NO_KNOWLEDGE: KnowledgeView = Object.freeze({ nodes: 0, edges: 0 })

/**
 * The merged store after a new snapshot `next` for one channel whose previous state was
 * `previous` (`undefined`: none kept, e.g. a first subscribe).
 *
 * - Keyed collections: an entity `previous` had and `next` lacks is dropped (it was deleted,
 *   or left the channel); every entity of `next` is taken, but where the store already
 *   holds a deep-equal one, the store's object stays, so selectors see no change. A
 *   collection nothing changed in keeps its identity, and so does the whole store.
 * - Lists (notifications, decisions) have no keys: the store's entries that match
 *   `previous`'s (deep-equal, counted as a multiset) are this channel's and are replaced by
 *   `next`'s; an entry of `next` already in the store from elsewhere is not added twice.
 *   The channel's entries go last (newest), and the list keeps its bound.
 * - Singletons (knowledge, dashboard) take `next`'s value only when the channel says
 *   something: when it differs from `previous` (or, with no `previous`, from the empty
 *   value). Otherwise the store keeps what other channels made of it.
 */
export function replaceChannel(store: AgentwireState, previous: AgentwireState | undefined, next: AgentwireState): AgentwireState {
  const agents = replaceKeyed(store.agents, previous?.agents, next.agents)
  const tasks = replaceKeyed(store.tasks, previous?.tasks, next.tasks)
  const requests = replaceKeyed(store.requests, previous?.requests, next.requests)
  const sessions = replaceKeyed(store.sessions, previous?.sessions, next.sessions)
  const chats = replaceKeyed(store.chats, previous?.chats, next.chats)
  const collections = replaceKeyed(store.collections, previous?.collections, next.collections)
  const metrics = replaceKeyed(store.metrics, previous?.metrics, next.metrics)
  const knowledge = replaceSingleton(store.knowledge, previous ? previous.knowledge : NO_KNOWLEDGE, next.knowledge)
  const dashboard = replaceSingleton(store.dashboard, previous ? previous.dashboard : null, next.dashboard)
  const notifications = replaceList(store.notifications, previous?.notifications ?? [], next.notifications, MAX_NOTIFICATIONS)
  const decisions = replaceList(store.decisions, previous?.decisions ?? [], next.decisions, MAX_DECISIONS)
  const merged: AgentwireState = { agents, tasks, requests, sessions, chats, collections, metrics, knowledge, dashboard, notifications, decisions }
  // The store itself when no part changed, so its readers see no change.
  for (const part in merged) if (merged[part as keyof AgentwireState] !== store[part as keyof AgentwireState]) return merged
  return store
}

function replaceKeyed<T>(
  store: Readonly<Record<string, T>>,
  previous: Readonly<Record<string, T>> | undefined,
  next: Readonly<Record<string, T>>,
): Readonly<Record<string, T>> {
  let out: MutableRecord<T> | undefined
  if (previous) {
    for (const key of Object.keys(previous)) {
      if (hasKey(next, key) || !hasKey(store, key)) continue
      out ??= copyRecord(store)
      delete out[key]
    }
  }
  for (const key of Object.keys(next)) {
    const value = next[key] as T
    const current = getKey(store, key)
    if (current !== undefined && deepEqual(current, value)) continue
    out ??= copyRecord(store)
    out[key] = value
  }
  return out ?? store
}

function replaceSingleton<T>(store: T, previous: T, next: T): T {
  if (deepEqual(next, previous) || deepEqual(next, store)) return store
  return next
}

function replaceList<T>(store: readonly T[], previous: readonly T[], next: readonly T[], max: number): readonly T[] {
  if (deepEqual(previous, next)) return store
  // Which of the store's entries are this channel's (matched against `previous`).
  const pending = previous.slice()
  const kept: T[] = []
  const removed: T[] = []
  for (const entry of store) {
    const i = pending.findIndex((p) => deepEqual(p, entry))
    if (i < 0) kept.push(entry)
    else {
      pending.splice(i, 1)
      removed.push(entry)
    }
  }
  const claimed = new Array<boolean>(kept.length).fill(false)
  const added: T[] = []
  for (const entry of next) {
    const r = removed.findIndex((x) => deepEqual(x, entry))
    if (r >= 0) {
      // The store's own object, so an unchanged entry keeps its identity.
      added.push(removed[r] as T)
      removed.splice(r, 1)
      continue
    }
    const k = kept.findIndex((x, i) => !claimed[i] && deepEqual(x, entry))
    if (k >= 0) claimed[k] = true
    else added.push(entry)
  }
  let out = kept.concat(added)
  if (out.length > max) out = out.slice(out.length - max)
  if (out.length === store.length && out.every((entry, i) => entry === store[i])) return store
  return out
}
