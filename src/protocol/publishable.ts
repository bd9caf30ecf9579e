import * as z from 'zod/mini'
import { compileChecker, type Checker } from './checker'
import { ErrorCode } from './codes'
import { isUserEventType, type AnyEventDefinitions, type UserEvent } from './define'
import { AgentwireError } from './errors'
import { AgentEventSchema, eventSchemas, type AgentEvent, type EventType } from './events'
import { isEventType } from './event-types'
import { sanitizeValue } from './json'
import { printable, validate } from './validate'

/**
 * The check every publisher runs before an event is stored (the gateway's `publish`, the Redis
 * publisher): strict at home. A built-in type is checked against its schema; a type of
 * `events` against the application's schema; any other type is refused (`unknown_event`).
 * Values from in-process code are held to what a frame from the network is: no prototype keys.
 */
export interface EventCheck {
  /** The event as it will be stored (unknown keys stripped), or the typed error that says what was expected. */
  (event: unknown): AgentEvent | UserEvent
}

/** An {@link EventCheck} for built-in events and the given definitions; throws the typed error. */
export function createEventCheck(events?: AnyEventDefinitions): EventCheck {
  const schemas = new Map<string, z.ZodMiniType>()
  /**
   * Built-in types first go through their checker (`./checker`: built from the schema, accepting
   * only what zod accepts and returning what it returns, at close to `JSON.parse` speed); zod
   * decides, and words the error, for whatever a checker does not vouch for.
   */
  const checkers = new Map<string, Checker | null>()
  return (event) => {
    const clean = sanitizeValue(event)
    if (!clean.ok) throw clean.error
    const type = (clean.value as { type?: unknown } | null)?.type
    if (isEventType(type)) {
      let checker = checkers.get(type)
      if (checker === undefined) checkers.set(type, (checker = compileChecker(eventSchemas[type as EventType]) ?? null))
      const fast = checker?.(clean.value)
      if (fast !== undefined) return fast as AgentEvent
      const checked = validate(AgentEventSchema, clean.value, 'publish')
      if (!checked.ok) throw checked.error
      return checked.value as AgentEvent
    }
    if (!isUserEventType(events, type)) {
      const known = events ? Object.keys(events.schemas) : []
      const what = typeof type === 'string' ? `"${printable(type)}"` : `of ${type === null ? 'null' : typeof type}`
      throw new AgentwireError(
        ErrorCode.UnknownEvent,
        `publish refused the event type ${what}: not built in${known.length ? ` nor one of ${known.join(', ')}` : ''}. Define it with defineEvents and pass it as events.`,
        { retryable: false },
      )
    }
    let schema = schemas.get(type as string)
    if (schema === undefined) schemas.set(type as string, (schema = z.object({ type: z.literal(type as string), payload: events!.schemas[type as string] as z.ZodMiniType })))
    const checked = validate(schema, clean.value, 'publish')
    if (!checked.ok) throw checked.error
    return checked.value as UserEvent
  }
}
