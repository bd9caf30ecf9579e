import type * as z from 'zod/mini'
import { ErrorCode } from './codes'
import { ProtocolError } from './errors'
import type { AgentEvent, EventOf, EventType, UntypedEvent } from './events'
import { isEventType } from './event-types'
import type { Spec } from './spec'
import { specOf } from './spec-of'
import { validate, type Validated } from './validate'
import { hasKey } from './records'

/**
 * The open protocol: event types, reducers and commands of the application's own, declared
 * once with zod and handed to the client, the gateway, the brokers and the adapters alike.
 *
 * ```ts
 * export const events = defineEvents({
 *   'deploy.finished': z.object({ service: z.string(), ok: z.boolean() }),
 * }).reducer('deploys', {
 *   initial: { total: 0, failed: [] as string[] },
 *   reduce: (state, event) =>
 *     event.type !== 'deploy.finished' ? state
 *       : { total: state.total + 1, failed: event.payload.ok ? state.failed : [...state.failed, event.payload.service] },
 * })
 * export const commands = defineCommands({ pause: z.object({ agent: z.string() }) })
 * ```
 *
 * Rules (docs/PROTOCOL.md, "Your own types"): an event type is lower-case words joined by
 * dots (`deploy.finished`, at most 128 characters), never a built-in type and never with a
 * colon (those are untyped foreign frames); a command name is one such word or a dotted
 * name, never a built-in frame type. Schemas are zod v4 (classic or mini).
 */

/** Any zod v4 schema, classic (`zod`) or mini (`zod/mini`). */
export type AnySchema = z.core.$ZodType

/** What zod gives for a schema after parsing. */
export type Output<S> = S extends AnySchema ? z.core.output<S> : never

/** Lower-case words joined by dots: `deploy.finished`, `budget.exceeded`, `eval_run.scored`. */
const EVENT_NAME = /^[a-z][a-z0-9_-]*(?:\.[a-z][a-z0-9_-]*)*$/
const MAX_NAME = 128

/** A user event as it reaches handlers and reducers: `{ type, payload }`. */
export interface UserEvent<T extends string = string, P = unknown> {
  readonly type: T
  readonly payload: P
}

/** Where a reducer's event came from. */
export interface ReduceContext {
  /** The concrete channel the event arrived on. */
  readonly channel: string
}

/**
 * A pure function of a state and an event, like the built-in `reduce`: the store keeps its
 * result per channel; the gateway keeps it in every channel's snapshot. Return `state` itself
 * when nothing changed (hooks then skip a render). Never mutate `state`; keep it JSON (it
 * travels in `state` frames and is kept in Redis).
 */
export interface ReducerDefinition<T, E> {
  /** The state of a channel before its first event. */
  readonly initial: T
  reduce(state: T, event: E, context: ReduceContext): T
}

type Schemas = Readonly<Record<string, AnySchema>>

/** The events of a definition set: the built-in ones and the application's. */
export type DefinedEvent<S extends Schemas> = AgentEvent | { [T in keyof S & string]: UserEvent<T, Output<S[T]>> }[keyof S & string]

/** What {@link defineEvents} returns: the schemas and reducers, passed as `events` everywhere. */
export interface EventDefinitions<S extends Schemas = Schemas, R extends Readonly<Record<string, unknown>> = Readonly<Record<string, unknown>>> {
  readonly kind: 'agentwire.events'
  /** The payload schema of each event type. */
  readonly schemas: S
  /** Each reducer by name, in the order they were added. */
  readonly reducers: { readonly [K in keyof R]: ReducerDefinition<R[K], DefinedEvent<S>> }
  /**
   * The same set plus a reducer named `name` (names are unique). It sees every event of a
   * channel, built-in and the application's, in order; read its state with
   * `client.reduced(name, channel)`, `useReduced` or `useReduced` in Vue.
   */
  reducer<N extends string, T>(name: N, definition: ReducerDefinition<T, DefinedEvent<S>>): EventDefinitions<S, R & { readonly [K in N]: T }>
  // What the client and the brokers call, carried by the definitions so a bundle without them carries none of it.
  /** Whether `type` is one of these event types. */
  has(type: unknown): boolean
  /** {@link applyReducers} with these reducers. */
  fold(states: ReducerStates | undefined, event: { readonly type: string; readonly payload: unknown }, channel: string, onError?: (name: string, error: unknown) => void): ReducerStates | undefined
  /** {@link readReduced} for these reducers. */
  read(value: unknown): ReducerStates | undefined
  /** {@link reducedState} for these reducers. */
  stateOf(states: ReducerStates | undefined, name: string): unknown
  /** The {@link Spec} of one type's payload schema (what the client's fast checker is built from), or undefined when it has none. */
  specOf(type: string): Spec | undefined
}

/** A channel's reducer states, by reducer name. */
export type ReducerStates = Readonly<Record<string, unknown>>

/** Any definition set (what options accept). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyEventDefinitions = EventDefinitions<any, any>

/** The application's event types of a definition set. */
export type UserEventType<E> = E extends EventDefinitions<infer S, infer _R> ? keyof S & string : never
/** The application's event of one type. */
export type UserEventOf<E, T extends string> = E extends EventDefinitions<infer S, infer _R> ? (T extends keyof S ? UserEvent<T, Output<S[T]>> : never) : never
/** Every type a handler can name: built-in or the application's. */
export type KnownEventType<E> = EventType | UserEventType<E>
/** The event of a built-in or user type. */
export type AnyEventOf<E, T extends string> = T extends EventType ? EventOf<T> : UserEventOf<E, T>
/** Every event `client.on('event')` hears: built-in, the application's, and untyped ones nobody registered. */
export type ClientEvent<E = Registered['events']> = AgentEvent | UserEventOf<E, UserEventType<E>> | UntypedEvent
/** The states of a definition set's reducers, by name. */
export type ReducedStates<E> = E extends EventDefinitions<infer _S, infer R> ? R : Record<never, never>

/**
 * Declares the application's own event types with a zod schema for each payload. Validated
 * by the gateway at `publish` (an invalid payload is refused with a typed error) and by the
 * client on receipt, like the built-in events. Throws a `TypeError` at once for a name that
 * breaks the rules.
 */
export function defineEvents<const S extends Schemas>(schemas: S): EventDefinitions<S, Record<never, never>> {
  if (schemas === null || typeof schemas !== 'object') throw new TypeError("agentwire: defineEvents expects an object of zod schemas, e.g. defineEvents({ 'deploy.finished': z.object({ ok: z.boolean() }) })")
  const own = Object.create(null) as Record<string, AnySchema>
  for (const type of Object.keys(schemas)) {
    checkEventName(type)
    const schema = schemas[type]
    if (!isSchema(schema)) throw new TypeError(`agentwire: defineEvents: "${type}" needs a zod schema for its payload`)
    own[type] = schema
  }
  return build(Object.freeze(own) as unknown as S, [])
}

function build<S extends Schemas>(schemas: S, list: ReadonlyArray<readonly [string, ReducerDefinition<unknown, never>]>): EventDefinitions<S, never> {
  const reducers = Object.create(null) as Record<string, ReducerDefinition<unknown, never>>
  for (const [name, r] of list) reducers[name] = r
  const set = Object.freeze({
    kind: 'agentwire.events' as const,
    schemas,
    reducers: Object.freeze(reducers),
    has: (type: unknown) => isUserEventType(set, type),
    fold: (states: ReducerStates | undefined, event: { readonly type: string; readonly payload: unknown }, channel: string, onError?: (name: string, error: unknown) => void) =>
      applyReducers(set, states, event, channel, onError),
    read: (value: unknown) => readReduced(set, value),
    stateOf: (states: ReducerStates | undefined, name: string) => reducedState(set, states, name),
    specOf: (type: string) => (isUserEventType(set, type) ? specOf(schemas[type]!) : undefined),
    reducer(name: string, definition: ReducerDefinition<unknown, never>) {
      if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME) throw new TypeError('agentwire: reducer(name, …) needs a name of 1–128 characters')
      if (hasKey(reducers, name)) throw new TypeError(`agentwire: a reducer named "${name}" is already defined`)
      if (definition === null || typeof definition !== 'object' || typeof definition.reduce !== 'function') {
        throw new TypeError(`agentwire: reducer("${name}", { initial, reduce }) needs a reduce function`)
      }
      return build(schemas, [...list, [name, definition]])
    },
  }) as unknown as AnyEventDefinitions
  return set as EventDefinitions<S, never>
}

/** A command's payload schema, or its payload and result schemas. */
export type CommandSpec = AnySchema | { readonly payload: AnySchema; readonly result?: AnySchema }
type CommandSpecs = Readonly<Record<string, CommandSpec>>

/** What {@link defineCommands} returns, passed as `commands` to the client and the gateway. */
export interface CommandDefinitions<C extends CommandSpecs = CommandSpecs> {
  readonly kind: 'agentwire.commands'
  readonly specs: C
  /** A command's payload and result schemas; undefined for a name not defined here. */
  schemasOf(name: string): { payload: AnySchema; result?: AnySchema } | undefined
  /** The payload as it will be sent, or why not (`unknown_command`, `bad_request`). */
  check(name: string, payload: unknown): Validated<unknown>
  /** A reply's result held to the command's `result` schema (any result when it has none). */
  checkResult(name: string, result: unknown): Validated<unknown>
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCommandDefinitions = CommandDefinitions<any>

/** The specs of a definition set, or of a plain `{ name: schema }` record. */
type SpecsOf<C> = C extends CommandDefinitions<infer S> ? S : C extends CommandSpecs ? C : never
/** The command names of a definition set. */
export type CommandName<C> = keyof SpecsOf<C> & string
/** The payload a command takes. */
export type CommandPayload<C, N extends string> = N extends keyof SpecsOf<C> ? (SpecsOf<C>[N] extends { readonly payload: infer P } ? Output<P> : Output<SpecsOf<C>[N]>) : never
/** What a command's reply carries: its `result` schema's output, else `unknown`. */
export type CommandResult<C, N extends string> = N extends keyof SpecsOf<C> ? (SpecsOf<C>[N] extends { readonly result: infer R } ? Output<R> : unknown) : unknown
/** One of the application's commands as the gateway's `onCommand` gets it: `name` narrows `payload`. */
export type AppCommand<C = Registered['commands']> = { [N in CommandName<C>]: { type: 'command'; id: string; name: N; payload: CommandPayload<C, N> } }[CommandName<C>]

/** Names of the native protocol's own client frames: not available as command names. */
const RESERVED_COMMANDS = new Set(['hello', 'auth', 'subscribe', 'unsubscribe', 'rejoin', 'start', 'cancel', 'feedback', 'ack', 'ping', 'pong', 'command'])

/**
 * Declares the application's own commands, each with a zod schema for its payload (and
 * optionally one for its result): `client.command('pause', { agent: 'planner' })` sends it,
 * the gateway validates it and hands it to `onCommand` with the caller's principal.
 */
export function defineCommands<const C extends CommandSpecs>(specs: C): CommandDefinitions<C> {
  if (specs === null || typeof specs !== 'object') throw new TypeError('agentwire: defineCommands expects an object of zod schemas, e.g. defineCommands({ pause: z.object({ agent: z.string() }) })')
  const own = Object.create(null) as Record<string, CommandSpec>
  for (const name of Object.keys(specs)) {
    if (!EVENT_NAME.test(name) || name.length > MAX_NAME) throw new TypeError(`agentwire: command name "${printable(name)}" must be lower-case words joined by dots, e.g. "pause" or "agent.pause"`)
    if (RESERVED_COMMANDS.has(name)) throw new TypeError(`agentwire: "${name}" is a built-in frame type; pick another command name`)
    const spec = specs[name]
    if (!isSchema(spec) && !(spec !== null && typeof spec === 'object' && isSchema((spec as { payload?: unknown }).payload))) {
      throw new TypeError(`agentwire: defineCommands: "${name}" needs a zod schema, or { payload, result } schemas`)
    }
    own[name] = spec!
  }
  const schemasOf = (name: string) => (hasKey(own, name) ? commandSchemas(own[name]!) : undefined)
  return Object.freeze({
    kind: 'agentwire.commands' as const,
    specs: Object.freeze(own) as unknown as C,
    schemasOf,
    check(name: string, payload: unknown): Validated<unknown> {
      const schemas = schemasOf(name)
      if (schemas === undefined) {
        return { ok: false, error: new ProtocolError(ErrorCode.UnknownCommand, `unknown command "${printable(name)}": expected one of ${Object.keys(own).join(', ') || '(none defined)'}`) }
      }
      return validate(schemas.payload as z.ZodMiniType, payload, name)
    },
    checkResult(name: string, result: unknown): Validated<unknown> {
      const schema = schemasOf(name)?.result
      return schema === undefined ? { ok: true, value: result } : validate(schema as z.ZodMiniType, result, `${name} result`)
    },
  })
}

/** A command's payload schema and optional result schema. */
export function commandSchemas(spec: CommandSpec): { payload: AnySchema; result?: AnySchema } {
  return isSchema(spec) ? { payload: spec } : (spec as { payload: AnySchema; result?: AnySchema })
}

/** Whether `type` names one of the set's event types (own property: `constructor` is no type). */
export function isUserEventType(events: AnyEventDefinitions | undefined, type: unknown): boolean {
  return events !== undefined && typeof type === 'string' && hasKey(events.schemas, type)
}

/**
 * Folds one event into a channel's reducer states (`undefined`: none yet, every reducer at its
 * `initial`). Returns the same object when no reducer changed anything. A reducer that throws
 * keeps its previous state; `onError` hears about it.
 */
export function applyReducers(
  events: AnyEventDefinitions | undefined,
  states: Readonly<Record<string, unknown>> | undefined,
  event: { readonly type: string; readonly payload: unknown },
  channel: string,
  onError?: (name: string, error: unknown) => void,
): Readonly<Record<string, unknown>> | undefined {
  if (events === undefined) return states
  let out: Record<string, unknown> | undefined
  const context: ReduceContext = { channel }
  for (const name in events.reducers) {
    const r = events.reducers[name] as ReducerDefinition<unknown, unknown>
    const before = states !== undefined && hasKey(states, name) ? states[name] : r.initial
    let after: unknown
    try {
      after = r.reduce(before, event, context)
    } catch (error) {
      onError?.(name, error)
      continue
    }
    if (after === before && states !== undefined && hasKey(states, name)) continue
    if (out === undefined) out = Object.assign(Object.create(null) as Record<string, unknown>, states)
    out[name] = after
  }
  return out ?? states
}

/** The reducer states a `state` frame carried, kept for the names this set defines (others dropped). */
export function readReduced(events: AnyEventDefinitions | undefined, value: unknown): Readonly<Record<string, unknown>> | undefined {
  if (events === undefined || value === null || typeof value !== 'object' || Array.isArray(value)) return undefined
  const record = value as Record<string, unknown>
  const out = Object.create(null) as Record<string, unknown>
  for (const name in events.reducers) if (hasKey(record, name)) out[name] = record[name]
  return out
}

/** A reducer's state on a channel: what was folded, else its `initial`. */
export function reducedState(events: AnyEventDefinitions | undefined, states: Readonly<Record<string, unknown>> | undefined, name: string): unknown {
  if (states !== undefined && hasKey(states, name)) return states[name]
  const r = events?.reducers[name] as ReducerDefinition<unknown, unknown> | undefined
  return r?.initial
}

/**
 * Types registered for the whole application, for the React and Vue hooks (which cannot see
 * the client's options): augment it once,
 *
 * ```ts
 * declare module 'agentwire' {
 *   interface Register { events: typeof events; commands: typeof commands }
 * }
 * ```
 *
 * and `useEvent('deploy.finished', …)`, `useReduced('deploys', …)` and `createClient` are typed
 * with them. Unregistered: the built-in events only.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface Register {}

/** The registered definitions, or empty ones. */
export type Registered = {
  events: Register extends { events: infer E } ? E : EventDefinitions<Record<never, never>, Record<never, never>>
  /** Unregistered: any name, any payload, the gateway decides. */
  commands: Register extends { commands: infer C } ? C : CommandDefinitions<Record<string, AnySchema>>
}

function checkEventName(type: string): void {
  if (type.length > MAX_NAME || !EVENT_NAME.test(type)) {
    throw new TypeError(`agentwire: event type "${printable(type)}" must be lower-case words joined by dots (a–z, 0–9, _ and -), at most ${MAX_NAME} characters, e.g. "deploy.finished"`)
  }
  if (isEventType(type)) throw new TypeError(`agentwire: "${type}" is a built-in event type; its schema cannot be replaced`)
}

function isSchema(value: unknown): value is AnySchema {
  return value !== null && typeof value === 'object' && '_zod' in value
}

function printable(s: string): string {
  return (s.length > 40 ? `${s.slice(0, 40)}…` : s).replace(/[^\x20-\x7e…]/g, '?')
}
