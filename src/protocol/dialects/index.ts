import type { Codec } from '../codec'
import { createAgentwireCodec } from '../native'

/** The codecs agentwire ships: the native protocol, and one per seed backend (docs/PROTOCOL.md). */
export interface Dialects {
  /** agentwire's own JSON text frames: handshake, server-side subscribe, resume, rejoin, commands. */
  readonly agentwire: Codec<string>
  readonly [name: string]: Codec | undefined
}

/** One codec per backend, by name; `createClient({ dialect })` takes a name from here. */
export const dialects: Dialects = {
  agentwire: createAgentwireCodec(),
}
