import type { EnvironmentLike } from './types'

export interface EnvironmentHandlers {
  online(): void
  offline(): void
  /** The page became visible again or was restored from the back/forward cache. */
  wake(): void
  /** The page was hidden or is being unloaded (`visibilitychange` to hidden, `pagehide`): the last moment to save anything. */
  hide?(): void
}

/** The default environment: `globalThis` where it is an event target (browsers, workers). */
export function defaultEnvironment(): EnvironmentLike | null {
  const g = globalThis as unknown as Partial<EnvironmentLike>
  return typeof g.addEventListener === 'function' && typeof g.removeEventListener === 'function' ? (g as EnvironmentLike) : null
}

/** Whether the environment says the network is down right now. */
export function isOffline(env: EnvironmentLike | null): boolean {
  return env?.navigator?.onLine === false
}

/**
 * Listens for the browser's hints about the link: `online`/`offline`, `visibilitychange` to
 * visible and `pageshow` (timers may not have run while hidden or frozen), and, for `hide`,
 * `visibilitychange` to hidden and `pagehide` (the page may never run again: a hidden tab can
 * be discarded without an unload). Returns the disposer that removes every listener it added.
 */
export function watchEnvironment(env: EnvironmentLike | null, handlers: EnvironmentHandlers): () => void {
  if (!env) return () => {}
  const online = () => handlers.online()
  const offline = () => handlers.offline()
  const pageshow = () => handlers.wake()
  const pagehide = () => handlers.hide?.()
  const visibility = () => {
    const state = env.document?.visibilityState
    if (state === undefined || state === 'visible') handlers.wake()
    else if (state === 'hidden') handlers.hide?.()
  }
  env.addEventListener('online', online)
  env.addEventListener('offline', offline)
  env.addEventListener('pageshow', pageshow)
  env.addEventListener('pagehide', pagehide)
  const doc = env.document
  const docTarget = doc && typeof doc.addEventListener === 'function' ? doc : undefined
  if (docTarget) docTarget.addEventListener!('visibilitychange', visibility)
  else env.addEventListener('visibilitychange', visibility)
  return () => {
    env.removeEventListener('online', online)
    env.removeEventListener('offline', offline)
    env.removeEventListener('pageshow', pageshow)
    env.removeEventListener('pagehide', pagehide)
    if (docTarget) docTarget.removeEventListener?.('visibilitychange', visibility)
    else env.removeEventListener('visibilitychange', visibility)
  }
}
