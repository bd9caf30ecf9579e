import { AgentEventSchema, initialState, reduce, type AgentEvent, type AgentwireState, type EventOf, type EventType } from 'agentwire/protocol'

/** Folds events from the initial state (or `from`), the way the store and the gateway do. */
export function fold(events: readonly AgentEvent[], from: AgentwireState = initialState()): AgentwireState {
  let state = from
  for (const event of events) state = reduce(state, event)
  return state
}

/** A canonical event, checked against the schema so a test never folds something the codec would refuse. */
export function ev<T extends EventType>(type: T, payload: EventOf<T>['payload']): EventOf<T> {
  const event = { type, payload } as EventOf<T>
  const parsed = AgentEventSchema.safeParse(event)
  if (!parsed.success) throw new Error(`test event ${type} is not valid: ${JSON.stringify(parsed.error.issues)}`)
  return event
}
