import type * as z from 'zod/mini'
import { eventSchemas, type EventType } from '../src/protocol/events'
import {
  AckFrame,
  AuthFrame,
  CancelFrame,
  CommandFrame,
  ErrorFrame,
  EventFrame,
  FeedbackFrame,
  HelloFrame,
  PingFrame,
  PongFrame,
  RefreshFrame,
  RejoinFrame,
  ReplyFrame,
  ServerPingFrame,
  ServerPongFrame,
  StartFrame,
  StateFrame,
  SubscribeFrame,
  SubscribeResultSchema,
  UnsubscribeFrame,
  UntypedEventFrame,
  WelcomeFrame,
} from '../src/protocol/frames'
import type { Spec } from '../src/protocol/spec'
import { specOf } from '../src/protocol/spec-of'
import { StateRestSchema, StateViewSchemas } from '../src/protocol/views'

/**
 * Writes src/protocol/generated/specs.ts: every zod schema `createClient` validates with, as a
 * spec (./src/protocol/spec.ts). `node scripts/gen-specs.mjs` (npm run gen) runs it; a test
 * fails when the committed file differs from what this returns.
 */

type AnySchema = z.core.$ZodType

const SERVER = { welcome: WelcomeFrame, reply: ReplyFrame, state: StateFrame, error: ErrorFrame, refresh: RefreshFrame, ping: ServerPingFrame, pong: ServerPongFrame }
const CLIENT = {
  hello: HelloFrame,
  auth: AuthFrame,
  subscribe: SubscribeFrame,
  unsubscribe: UnsubscribeFrame,
  rejoin: RejoinFrame,
  start: StartFrame,
  cancel: CancelFrame,
  feedback: FeedbackFrame,
  ack: AckFrame,
  command: CommandFrame,
  ping: PingFrame,
  pong: PongFrame,
}

function spec(schema: AnySchema, name: string): Spec {
  const s = specOf(schema)
  if (s === undefined) throw new Error(`gen-specs: ${name} uses a part specs do not model; extend src/protocol/spec.ts (and spec-of.ts) first`)
  return s
}

function objectShape(s: Spec, name: string): Record<string, Spec> {
  if (s[0] !== 'object') throw new Error(`gen-specs: ${name} is not an object`)
  return { ...s[1] }
}

/** The file's text. */
export function generateSpecs(): string {
  // The envelope of every event frame: EventFrame without its `event`, which each type brings.
  const envelope = objectShape(spec(EventFrame, 'EventFrame'), 'EventFrame')
  delete envelope.event
  const payloads: Record<string, Spec> = {}
  for (const type of Object.keys(eventSchemas) as EventType[]) {
    const shape = objectShape(spec(eventSchemas[type], type), type)
    // The codec rebuilds `{ type, payload }` from the type: hold the schema to that form.
    if (Object.keys(shape).join() !== 'type,payload' || JSON.stringify(shape.type) !== JSON.stringify(['literal', [type]])) throw new Error(`gen-specs: ${type} is not { type, payload }`)
    payloads[type] = shape.payload!
  }
  const untyped = objectShape(spec(UntypedEventFrame, 'UntypedEventFrame'), 'UntypedEventFrame')
  if (JSON.stringify({ ...untyped, event: undefined }) !== JSON.stringify({ ...envelope, event: undefined })) throw new Error('gen-specs: UntypedEventFrame is not the event envelope')
  const map = (o: Record<string, AnySchema>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, spec(v, k)]))
  const parts: Array<[string, string, unknown]> = [
    ['ENVELOPE', 'Readonly<Record<string, Spec>>', envelope],
    ['PAYLOADS', 'Readonly<Record<EventType, Spec>>', payloads],
    ['UNTYPED_EVENT', 'Spec', untyped.event],
    ['SERVER', 'Readonly<Record<Exclude<ServerFrame[\'type\'], \'event\'>, Spec>>', map(SERVER)],
    ['CLIENT', 'Readonly<Record<ClientFrame[\'type\'], Spec>>', map(CLIENT)],
    ['SUBSCRIBE_RESULT', 'Spec', spec(SubscribeResultSchema, 'SubscribeResultSchema')],
    ['STATE_REST', 'Spec', spec(StateRestSchema, 'StateRestSchema')],
    ['STATE_VIEWS', 'Readonly<Record<keyof typeof StateViewSchemas, Spec>>', map(StateViewSchemas)],
  ]
  return emit(parts)
}

/** A spec part is shared when it is an array of arrays, or an object: worth a name when used twice. */
function emit(parts: Array<[string, string, unknown]>): string {
  const uses = new Map<string, number>()
  const count = (v: unknown): void => {
    if (v === null || typeof v !== 'object') return
    const key = JSON.stringify(v)
    uses.set(key, (uses.get(key) ?? 0) + 1)
    // A subtree counts once per use of its parent, so shared parents do not inflate it.
    if ((uses.get(key) ?? 0) > 1) return
    for (const x of Object.values(v)) count(x)
  }
  for (const [, , v] of parts) for (const x of Object.values(v as object)) count(x)
  const names = new Map<string, string>()
  const consts: string[] = []
  const text = (v: unknown, top = false): string => {
    if (v === null || typeof v !== 'object') return JSON.stringify(v)
    const key = JSON.stringify(v)
    const named = names.get(key)
    if (named) return named
    const body = Array.isArray(v)
      ? `[${v.map((x) => text(x)).join(', ')}]`
      : `{ ${Object.entries(v).map(([k, x]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${text(x)}`).join(', ')} }`
    // Worth a name: a node (an array starting with its kind) used more than once.
    if (!top && Array.isArray(v) && typeof v[0] === 'string' && (uses.get(key) ?? 0) > 1 && body.length > 12) {
      const name = `s${names.size}`
      names.set(key, name)
      consts.push(`const ${name}: Spec = ${body}`)
      return name
    }
    return body
  }
  const exports = parts.map(([name, type, v]) => {
    const entries = Array.isArray(v)
      ? text(v)
      : `{\n${Object.entries(v as object)
          .map(([k, x]) => `  ${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${text(x)},`)
          .join('\n')}\n}`
    return `export const ${name}: ${type} = ${entries}`
  })
  return [
    '// Generated by scripts/gen-specs.mjs (npm run gen) from the zod schemas in events.ts, frames.ts and views.ts. Do not edit:',
    '// change the schemas and regenerate. test/protocol/specs.test.ts fails when this file is stale, and holds every spec to zod.',
    "import type { EventType } from '../events'",
    "import type { ClientFrame, ServerFrame } from '../frames'",
    "import type { Spec } from '../spec'",
    "import type { StateViewSchemas } from '../views'",
    '',
    ...consts,
    '',
    ...exports.flatMap((e) => [e, '']),
  ].join('\n')
}
