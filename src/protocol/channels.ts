/**
 * Channel names: `agent:{name}`, `task:{id}`, `request:{id}`, `session:{id}`, `chat:{id}`,
 * `collection:{id}`, `user:{id}`, `knowledge`, `metrics`, `global`, and patterns ending in one
 * `*` (`agent:*`, `*`). Names are validated and canonicalised before anything authorizes them:
 * ASCII only (no confusables, no percent-encoding, no spaces), ids of 1–128 characters from
 * `[A-Za-z0-9_.@+=~-]`, never only dots.
 */

export const CHANNEL_FAMILIES = ['agent', 'task', 'request', 'session', 'chat', 'collection', 'user'] as const
export const CHANNEL_SINGLETONS = ['knowledge', 'metrics', 'global'] as const
export type ChannelFamily = (typeof CHANNEL_FAMILIES)[number]

export const MAX_CHANNEL_LENGTH = 160
const ID = /^[A-Za-z0-9_.@+=~-]{1,128}$/
const ID_PREFIX = /^[A-Za-z0-9_.@+=~-]{0,127}$/
const ONLY_DOTS = /^\.+$/

export type ChannelCheck = { ok: true; channel: string; pattern: boolean } | { ok: false; reason: string }

/** Validates a channel name or pattern and returns its canonical form (family in lower case). */
export function parseChannel(input: unknown): ChannelCheck {
  if (typeof input !== 'string') return { ok: false, reason: `channel must be a string, got ${input === null ? 'null' : typeof input}` }
  if (input.length === 0) return { ok: false, reason: 'channel must not be empty' }
  if (input.length > MAX_CHANNEL_LENGTH) return { ok: false, reason: `channel must be at most ${MAX_CHANNEL_LENGTH} characters, got ${input.length}` }
  if (input === '*') return { ok: true, channel: '*', pattern: true }
  const colon = input.indexOf(':')
  const family = (colon === -1 ? input : input.slice(0, colon)).toLowerCase()
  if (colon === -1) {
    if ((CHANNEL_SINGLETONS as readonly string[]).includes(family)) return { ok: true, channel: family, pattern: false }
    return { ok: false, reason: `unknown channel "${printable(input)}": expected one of ${[...CHANNEL_FAMILIES.map((f) => `${f}:{id}`), ...CHANNEL_SINGLETONS].join(', ')}` }
  }
  if (!(CHANNEL_FAMILIES as readonly string[]).includes(family)) {
    return { ok: false, reason: `unknown channel family "${printable(family)}": expected one of ${CHANNEL_FAMILIES.join(', ')}` }
  }
  const rest = input.slice(colon + 1)
  if (rest.endsWith('*')) {
    const prefix = rest.slice(0, -1)
    if (!ID_PREFIX.test(prefix)) return { ok: false, reason: `invalid pattern "${printable(input)}": only a trailing * is allowed` }
    return { ok: true, channel: `${family}:${prefix}*`, pattern: true }
  }
  if (!ID.test(rest) || ONLY_DOTS.test(rest)) {
    return { ok: false, reason: `invalid id in channel "${printable(input)}": expected 1–128 characters of A–Z a–z 0–9 _ . @ + = ~ -` }
  }
  return { ok: true, channel: `${family}:${rest}`, pattern: false }
}

/** Whether a concrete channel matches a subscription (a channel or a pattern ending in `*`). */
export function channelMatches(subscription: string, channel: string): boolean {
  if (subscription === channel) return true
  if (!subscription.endsWith('*')) return false
  return channel.startsWith(subscription.slice(0, -1))
}

/** The concrete channel name for an entity, e.g. `channelFor('agent', 'planner')`. */
export function channelFor(family: ChannelFamily, id: string): string {
  return `${family}:${id}`
}

function printable(s: string): string {
  const cut = s.length > 40 ? `${s.slice(0, 40)}…` : s
  return cut.replace(/[^\x20-\x7e]/g, '?')
}
