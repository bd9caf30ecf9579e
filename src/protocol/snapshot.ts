import { ERROR_BAD_REQUEST } from './code-values'
import { ProtocolError } from './errors'
import { STATE_REST, STATE_VIEWS } from './generated/specs'
import { emptyRecord, hasKey, type MutableRecord } from './records'
import { initialState } from './reduce'
import { MAX_DECISIONS, MAX_NOTIFICATIONS, type AgentwireState } from './state'
import { parseSpec } from './spec'
import { formatPath, issueError, printable } from './validate'

export { replaceChannel } from './merge'

/**
 * Snapshots: a state that crossed the wire (a `state` frame, built on the server by
 * `reduce`). How a snapshot for one channel replaces that channel's part of the client's
 * merged store is `./merge`.
 *
 * On the wire, prefer {@link serializeState}: `JSON.stringify(state)` works (null-prototype
 * records serialize like plain objects), but a safe JSON reader drops keys named
 * `__proto__`, `constructor` and `prototype`, and an agent or task may have such an id. The
 * serialized form carries each keyed collection as `[key, view]` pairs, which no reader
 * strips. {@link parseState} reads both forms.
 *
 * Views are validated with the specs generated from their zod schemas (./views), exactly as
 * those schemas validate them, without zod at run time.
 */

/** The keyed collections and whether a view's `id` must equal its key (specs generated from ./views). */
const KEYED = {
  agents: false,
  tasks: true,
  requests: true,
  sessions: true,
  chats: true,
  collections: true,
  metrics: false,
} as const
type KeyedName = keyof typeof KEYED
const KEYED_NAMES = Object.keys(KEYED) as KeyedName[]

// ── parse and serialize ────────────────────────────────────────────────────────────────

export type ParseStateResult = { ok: true; state: AgentwireState } | { ok: false; error: ProtocolError }

/** A state as {@link serializeState} writes it: keyed collections as `[key, view]` pairs. */
export type SerializedState = {
  [K in keyof AgentwireState]: AgentwireState[K] extends Readonly<Record<string, infer V>>
    ? K extends KeyedName
      ? Array<[string, V]>
      : AgentwireState[K]
    : AgentwireState[K]
}

/**
 * A JSON-ready form of `state` for a `state` frame. Keyed collections become `[key, view]`
 * pairs so ids like `__proto__` survive readers that drop such keys; everything else is as
 * it is. `parseState` turns it back.
 */
export function serializeState(state: AgentwireState): SerializedState {
  const out: Record<string, unknown> = {
    knowledge: state.knowledge,
    dashboard: state.dashboard,
    notifications: state.notifications,
    decisions: state.decisions,
  }
  for (const name of KEYED_NAMES) {
    const collection = state[name] as Readonly<Record<string, unknown>>
    out[name] = Object.keys(collection).map((key) => [key, collection[key]])
  }
  return out as SerializedState
}

/**
 * Validates a snapshot from the wire and rebuilds it as `reduce` builds state: keyed
 * collections as null-prototype records, unknown fields stripped, lists cut to their bounds
 * (newest kept). Each keyed collection may be an object or `[key, view]` pairs; a missing
 * part is empty. Never throws: a bad shape is a `ProtocolError` whose message and `path`
 * say where, e.g. `"state" expects tasks.t1.status to be one of routed, running, …`.
 */
export function parseState(value: unknown): ParseStateResult {
  try {
    return parse(value)
  } catch (cause) {
    // A hostile value (a throwing getter, a proxy) must not escape the wire boundary.
    return { ok: false, error: new ProtocolError(ERROR_BAD_REQUEST, '"state" could not be read', { cause }) }
  }
}

function parse(value: unknown): ParseStateResult {
  if (!isObject(value)) return fail(`"state" expects an object, got ${kind(value)}`, [])
  const rest = parseSpec(STATE_REST, value)
  if (rest.issues.length) return { ok: false, error: issueError('state', rest.issues as never) }
  const data = rest.value as { knowledge?: AgentwireState['knowledge']; dashboard?: AgentwireState['dashboard']; notifications?: AgentwireState['notifications']; decisions?: AgentwireState['decisions'] }
  const keyed = emptyRecord<MutableRecord<unknown>>()
  for (const name of KEYED_NAMES) {
    const parsed = parseKeyed(name, hasKey(value, name) ? value[name] : undefined)
    if (!parsed.ok) return parsed
    keyed[name] = parsed.record
  }
  const k = keyed as Record<KeyedName, MutableRecord<never>>
  // Built in the order `initialState` uses, so a re-serialized snapshot reads the same.
  const state: AgentwireState = {
    agents: k.agents,
    tasks: k.tasks,
    requests: k.requests,
    sessions: k.sessions,
    chats: k.chats,
    collections: k.collections,
    knowledge: data.knowledge ?? initialState().knowledge,
    metrics: k.metrics,
    dashboard: data.dashboard ?? null,
    notifications: newest(data.notifications ?? [], MAX_NOTIFICATIONS),
    decisions: newest(data.decisions ?? [], MAX_DECISIONS),
  }
  return { ok: true, state }
}

type KeyedResult = { ok: true; record: MutableRecord<unknown> } | { ok: false; error: ProtocolError }

function parseKeyed(name: KeyedName, raw: unknown): KeyedResult {
  const out = emptyRecord<unknown>()
  if (raw === undefined) return { ok: true, record: out }
  let entries: Array<readonly [unknown, unknown]>
  if (Array.isArray(raw)) {
    entries = []
    for (let i = 0; i < raw.length; i++) {
      const pair: unknown = raw[i]
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string') {
        return fail(`"state" expects ${name}[${i}] to be a [key, view] pair, got ${kind(pair)}`, [name, i])
      }
      entries.push([pair[0], pair[1]])
    }
  } else if (isObject(raw)) {
    // Own keys only, `__proto__` included: JSON.parse makes it an ordinary own property.
    entries = Object.keys(raw).map((key) => [key, raw[key]] as const)
  } else {
    return fail(`"state" expects ${name} to be an object or [key, view] pairs, got ${kind(raw)}`, [name])
  }
  const spec = STATE_VIEWS[name]
  const idKey = KEYED[name]
  for (const [key, view] of entries) {
    const k = key as string
    if (hasKey(out, k)) return fail(`"state" expects ${formatPath([name, k])} only once`, [name, k])
    const parsed = parseSpec(spec, view)
    if (parsed.issues.length) return { ok: false, error: issueError('state', parsed.issues as never, [name, k]) }
    const data = parsed.value as { id?: unknown }
    if (idKey && data.id !== k) {
      return fail(`"state" expects ${formatPath([name, k, 'id'])} to be ${JSON.stringify(printable(k))}, got ${JSON.stringify(printable(String(data.id)))}`, [name, k, 'id'])
    }
    // Assignment on a null-prototype record: `__proto__` becomes an own key, not a prototype.
    out[k] = parsed.value
  }
  return { ok: true, record: out }
}

function newest<T>(list: readonly T[], max: number): readonly T[] {
  return list.length > max ? list.slice(list.length - max) : list
}

function fail(message: string, path: ReadonlyArray<string | number>): { ok: false; error: ProtocolError } {
  return { ok: false, error: new ProtocolError(ERROR_BAD_REQUEST, message, { path }) }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function kind(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  return typeof value
}
