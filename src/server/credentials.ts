import type { ServerClock } from './clock'
import type { AuthOutcome, Principal } from './options'

/** What a token grants: who, and until when (`undefined`: no expiry). */
export interface Credentials {
  readonly principal: Principal
  readonly expiresAt: number | undefined
}

/** `authenticate`'s many shapes, as one. A throwing or refusing authenticate is a refusal. */
export function readCredentials(outcome: AuthOutcome): Credentials | undefined {
  if (outcome === null || outcome === undefined) return undefined
  if (typeof outcome === 'string') return outcome ? { principal: { id: outcome }, expiresAt: undefined } : undefined
  // A principal is an object with a string `id`; a wrapper has `principal` (and maybe `expiresAt`) instead.
  const wrapped = outcome as { principal?: Principal | string; expiresAt?: number }
  if (wrapped.principal !== undefined) {
    const p = wrapped.principal
    const principal: Principal = typeof p === 'string' ? { id: p } : p
    if (!principal || typeof principal.id !== 'string' || principal.id === '') return undefined
    const expiresAt = typeof wrapped.expiresAt === 'number' && Number.isFinite(wrapped.expiresAt) ? wrapped.expiresAt : undefined
    return { principal, expiresAt }
  }
  const principal = outcome as Principal
  if (typeof principal.id !== 'string' || principal.id === '') return undefined
  return { principal, expiresAt: undefined }
}

/**
 * The timers of a token's lifetime on one connection: ask for a new token ahead of expiry
 * (`refresh`), and give up the connection once the grace after expiry is over (`expire`).
 */
export interface TokenLifetime {
  /** Starts over for a token that expires at `expiresAt` (`undefined`: never). */
  schedule(expiresAt: number | undefined): void
  clear(): void
}

export function createTokenLifetime(
  clock: ServerClock,
  options: { readonly refreshBeforeMs: number; readonly graceMs: number },
  refresh: (expiresAt: number) => void,
  expire: () => void,
): TokenLifetime {
  let refreshTimer: unknown
  let expiryTimer: unknown
  const clear = () => {
    clock.clearTimeout(refreshTimer)
    clock.clearTimeout(expiryTimer)
  }
  return {
    schedule(expiresAt) {
      clear()
      if (expiresAt === undefined) return
      const now = clock.now()
      const lead = Math.min(options.refreshBeforeMs, Math.max(0, (expiresAt - now) / 2))
      refreshTimer = clock.setTimeout(() => refresh(expiresAt), Math.max(0, expiresAt - lead - now))
      expiryTimer = clock.setTimeout(expire, Math.max(0, expiresAt + options.graceMs - now))
    },
    clear,
  }
}
