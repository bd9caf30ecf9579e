import type { Codec } from '../codec'
import { createAgentwireCodec } from '../native'
import { forge } from './forge'
import { createProgressCodec } from './progress'
import { rooms, type RoomsFrame } from './rooms'
import { routing } from './routing'
import { webgui } from './webgui'

export * from './forge'
export * from './progress'
export * from './rooms'
export * from './routing'
export * from './webgui'
export { AGENT_STATUS_SYNONYMS } from './shared'
export * from './socketio'

/** The codecs agentwire ships: the native protocol, and one per seed backend (docs/PROTOCOL.md). */
export interface Dialects {
  /** agentwire's own JSON text frames: handshake, server-side subscribe, resume, rejoin, commands. */
  readonly agentwire: Codec<string>
  /** Seed `routing`: `{ type, payload }` broadcasts; listen only. */
  readonly routing: Codec<string>
  /** Seed `webgui`: `{ type, timestamp, session_id, data }`; subscribe per channel. */
  readonly webgui: Codec<string>
  /** Seed `rooms`: Socket.IO `[event, payload]`; rooms per agent, chat, collection. */
  readonly rooms: Codec<RoomsFrame>
  /** Seed `progress`: Socket.IO (or JSON text) request progress; start, cancel, feedback, rejoin. */
  readonly progress: Codec
  /** Seed `forge`: `{ type, data, timestamp }` on five endpoints; text ping/pong. */
  readonly forge: Codec<string>
  readonly [name: string]: Codec | undefined
}

/** One codec per backend, by name; `createClient({ dialect })` takes a name from here. */
export const dialects: Dialects = {
  agentwire: createAgentwireCodec(),
  routing,
  webgui,
  rooms,
  progress: createProgressCodec(),
  forge,
}
