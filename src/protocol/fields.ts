import * as z from 'zod/mini'

/** Field schemas the event payloads share (`events.ts`, `messages.ts`): one object each in the bundle. */
export const id = z.string().check(z.minLength(1), z.maxLength(512))
export const text = z.string().check(z.maxLength(65_536))
