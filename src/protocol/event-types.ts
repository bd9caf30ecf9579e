import type { EventType } from './events'
import { PAYLOADS } from './generated/specs'

/**
 * The canonical event types, from the specs generated from `eventSchemas` (./events), so a
 * bundle that only asks "is this a built-in type?" carries no zod.
 */

/** Every canonical event type, e.g. `'agent.status'`. */
export const EVENT_TYPES = Object.keys(PAYLOADS) as EventType[]

/**
 * A Set rather than `hasOwnProperty` on the schemas: a type read by `JSON.parse` is a fresh
 * string, which a property lookup first looks up in V8's string table; a Set hashes it once.
 * The receive path asks this for every event.
 */
const EVENT_TYPE_SET: ReadonlySet<string> = new Set(EVENT_TYPES)

export function isEventType(type: unknown): type is EventType {
  return typeof type === 'string' && EVENT_TYPE_SET.has(type)
}
