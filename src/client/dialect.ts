import { createClientCodec, type AnyEventDefinitions, type Codec } from 'agentwire/protocol'

/** The seed backends' names, to tell a seed dialect passed by name from a typo. */
const SEED_DIALECTS = ['routing', 'webgui', 'rooms', 'progress', 'forge']

/** One native codec for every client: its checkers are built once. It validates without zod (see createClientCodec). */
let nativeCodec: Codec | undefined

/**
 * The codec of `options.dialect`. Only the native one is known by name here: a lookup table
 * of every seed codec would put all five into every browser bundle, used or not.
 */
export function resolveCodec(dialect: unknown, events?: AnyEventDefinitions): Codec {
  if (dialect === undefined || dialect === 'agentwire') {
    // The application's event types make a codec of their own (the shared one knows built-ins only).
    if (events !== undefined && Object.keys(events.schemas).length > 0) return createClientCodec({ events })
    return (nativeCodec ??= createClientCodec())
  }
  if (typeof dialect === 'string') {
    if (SEED_DIALECTS.includes(dialect)) {
      throw new TypeError(
        `agentwire: createClient takes the "${dialect}" dialect as a codec, not a name, so a browser bundle carries only the codecs it uses: ` +
          `import { dialects } from 'agentwire/protocol' and pass dialect: dialects.${dialect}` +
          ` (or createNodeClient from 'agentwire/node', which takes names).`,
      )
    }
    throw new TypeError(
      `agentwire: unknown dialect "${dialect}". createClient takes 'agentwire' or a Codec, e.g. dialects.routing from 'agentwire/protocol' (seed backends: ${SEED_DIALECTS.join(', ')}).`,
    )
  }
  const codec = dialect as Partial<Codec> | null
  if (codec && typeof codec.decode === 'function' && typeof codec.encode === 'function' && codec.capabilities) return codec as Codec
  throw new TypeError("agentwire: options.dialect must be 'agentwire' or a Codec ({ name, capabilities, decode, encode }), e.g. dialects.routing from 'agentwire/protocol'.")
}
