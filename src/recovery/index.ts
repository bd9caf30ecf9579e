/**
 * `agentwire/recovery`: a page reload that loses nothing. Spread it into the client's options:
 *
 * ```ts
 * import { createClient } from 'agentwire'
 * import { recovery } from 'agentwire/recovery'
 *
 * const client = createClient({ url, ...recovery({ storage: sessionStorage, user: 'alice' }) })
 * ```
 *
 * Each channel's position and state are saved when the page is hidden or unloaded and
 * restored when the next page's client is created; each cancel and feedback is kept until it
 * is answered (see `ClientOptions.storage` and `steering`). Its own entry, so an app that does
 * not use it does not carry its code.
 */
import type { ClientOptions, RecoveryPlugin } from 'agentwire'
import type { RecoveryParts } from '../client/recovery-plugin'
import { createPersistence } from './persistence'
import { createSteering } from './steering'
import { defaultStorageKey } from './storage'

export { defaultStorageKey } from './storage'

/** What recovery keeps and where: the client options of that name. */
export type RecoveryOptions = Pick<ClientOptions, 'storageKey' | 'instance' | 'user' | 'maxStorageLength' | 'steering'> & {
  /** Where to keep it, e.g. `sessionStorage`. `null` or absent: nothing is kept. */
  storage: NonNullable<ClientOptions['storage']> | null | undefined
}

const parts: RecoveryParts = {
  kind: 'agentwire.recovery',
  persistence: createPersistence,
  steering: createSteering,
  defaultKey: defaultStorageKey,
}

/** The options that turn recovery on, with its code; spread them into `createClient`'s options. */
export function recovery(options: RecoveryOptions): RecoveryOptions & { recovery: RecoveryPlugin } {
  if (options === null || typeof options !== 'object') throw new TypeError('agentwire: recovery({ storage }) expects options, e.g. recovery({ storage: sessionStorage })')
  return { ...options, recovery: parts }
}
