import { specCheck } from './checker'
import type { Codec } from './codec'
import { CLIENT, ENVELOPE, PAYLOADS, SERVER, SUBSCRIBE_RESULT, UNTYPED_EVENT } from './generated/specs'
import type { SubscribeResult } from './frames'
import { nativeCodec, type FrameValidator, type NativeCodecOptions } from './native-codec'
import { parseSpec, validateSpec, type Spec, type ZodLike } from './spec'
import { hasKey } from './records'

/**
 * The native codec as `createClient` uses it: the frames, checks and errors of
 * `createAgentwireCodec`, validated with the specs generated from its zod schemas
 * (./generated/specs.ts) instead of zod, so a browser bundle that uses it carries no zod. The
 * application's own event types (`events`) are still validated by their zod schemas, which the
 * application brings.
 */
export function createClientCodec(options: NativeCodecOptions = {}): Codec<string> {
  const events = options.events
  const validators = new Map<string, FrameValidator>()
  const once = (key: string, make: () => FrameValidator): FrameValidator => {
    let v = validators.get(key)
    if (v === undefined) validators.set(key, (v = make()))
    return v
  }
  const validator = (spec: Spec, frame: string): FrameValidator => (value) => validateSpec(spec, value, frame)
  /** An event frame: the envelope and `{ type, payload }`. */
  const frameOf = (type: string, payload: Spec): Spec => ['object', { ...ENVELOPE, event: ['object', { type: ['literal', [type]], payload }] }]
  const builtIn = (type: string): Spec => frameOf(type, PAYLOADS[type as keyof typeof PAYLOADS])
  const untyped: Spec = ['object', { ...ENVELOPE, event: UNTYPED_EVENT }]
  const userSchema = (type: string) => events!.schemas[type] as unknown as ZodLike
  return nativeCodec(
    {
      server: (type) => (hasKey(SERVER, type) ? once(`server ${type}`, () => validator(SERVER[type as keyof typeof SERVER], type)) : undefined),
      client: (type) => (hasKey(CLIENT, type) ? once(`client ${type}`, () => validator(CLIENT[type as keyof typeof CLIENT], type)) : undefined),
      event: (type) => once(`event ${type}`, () => validator(builtIn(type), 'event')),
      // zod decides the application's payload; the spec, everything around it.
      user: (type) => once(`user ${type}`, () => validator(frameOf(type, ['zod', userSchema(type)]), 'event')),
      untyped: (value) => validateSpec(untyped, value, 'event'),
      check: (type) => {
        if (hasKey(PAYLOADS, type)) return specCheck(builtIn(type)) ?? null
        // The definitions carry `specOf`, so a bundle without them carries none of it.
        const payload = events!.specOf(type)
        return (payload && specCheck(frameOf(type, payload))) ?? null
      },
    },
    options,
  )
}

/** One subscribe result of a `reply` or `welcome`, as `SubscribeResultSchema` reads it; undefined when invalid. */
export function parseSubscribeResult(value: unknown): SubscribeResult | undefined {
  const parsed = parseSpec(SUBSCRIBE_RESULT, value)
  return parsed.issues.length === 0 ? (parsed.value as SubscribeResult) : undefined
}
