/**
 * Channel names. Built-in families keep their meaning for the built-in store:
 * `agent:{name}`, `task:{id}`, `request:{id}`, `session:{id}`, `chat:{id}`,
 * `collection:{id}`, `user:{id}`, and the singletons `knowledge`, `metrics`, `global`.
 * Any other name is the application's: `segment(:segment)*` (`deploys:prod`,
 * `audit:eu:2026`), and `authorize` decides who may use it. A pattern ends in one `*`
 * (`agent:*`, `deploys:*`, `audit:eu:20*`, `*`) and matches by prefix.
 *
 * Names are validated and canonicalised before anything authorizes them: ASCII only (no
 * confusables, no percent-encoding, no spaces); the first segment (the family) is a letter
 * and then letters, digits, `_` or `-`, up to 32, compared in lower case; every other segment
 * is 1–128 characters of `[A-Za-z0-9_.@+=~-]`, never only dots; at most 8 segments and 160
 * characters in all.
 */

export const CHANNEL_FAMILIES = ['agent', 'task', 'request', 'session', 'chat', 'collection', 'user'] as const
export const CHANNEL_SINGLETONS = ['knowledge', 'metrics', 'global'] as const
export type ChannelFamily = (typeof CHANNEL_FAMILIES)[number]

export const MAX_CHANNEL_LENGTH = 160
/** Segments of an application channel name, the family included. */
export const MAX_CHANNEL_SEGMENTS = 8
const ID = /^[A-Za-z0-9_.@+=~-]{1,128}$/
const ID_PREFIX = /^[A-Za-z0-9_.@+=~-]{0,127}$/
const FAMILY = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/
const ONLY_DOTS = /^\.+$/

export type ChannelCheck = { ok: true; channel: string; pattern: boolean } | { ok: false; reason: string }

/** Validates a channel name or pattern and returns its canonical form (family in lower case). */
export function parseChannel(input: unknown): ChannelCheck {
  if (typeof input !== 'string') return { ok: false, reason: `channel must be a string, got ${input === null ? 'null' : typeof input}` }
  if (input.length === 0) return { ok: false, reason: 'channel must not be empty' }
  if (input.length > MAX_CHANNEL_LENGTH) return { ok: false, reason: `channel must be at most ${MAX_CHANNEL_LENGTH} characters, got ${input.length}` }
  if (input === '*') return { ok: true, channel: '*', pattern: true }
  const colon = input.indexOf(':')
  const head = colon === -1 ? input : input.slice(0, colon)
  const pattern = input.endsWith('*')
  // `deploys*`: a pattern over family names is a prefix of the first segment.
  if (colon === -1 && pattern) {
    const prefix = head.slice(0, -1)
    if (prefix !== '' && !FAMILY.test(prefix)) return { ok: false, reason: `invalid pattern "${printable(input)}": only a trailing * is allowed` }
    return { ok: true, channel: `${prefix.toLowerCase()}*`, pattern: true }
  }
  if (!FAMILY.test(head)) {
    return { ok: false, reason: `invalid channel "${printable(input)}": a name starts with a letter, then letters, digits, _ or - (at most 32), e.g. "deploys:prod" or "agent:planner"` }
  }
  const family = head.toLowerCase()
  if (colon === -1) {
    if ((CHANNEL_FAMILIES as readonly string[]).includes(family)) return { ok: false, reason: `invalid channel "${printable(input)}": the built-in family "${family}" takes an id, as ${family}:{id}` }
    return { ok: true, channel: family, pattern: false }
  }
  if ((CHANNEL_SINGLETONS as readonly string[]).includes(family)) {
    return { ok: false, reason: `invalid channel "${printable(input)}": "${family}" is a built-in channel without an id` }
  }
  const segments = input.slice(colon + 1).split(':')
  const builtIn = (CHANNEL_FAMILIES as readonly string[]).includes(family)
  if (builtIn && segments.length > 1) {
    return { ok: false, reason: `invalid channel "${printable(input)}": the built-in family "${family}" takes one id, as ${family}:{id}` }
  }
  if (segments.length + 1 > MAX_CHANNEL_SEGMENTS) return { ok: false, reason: `invalid channel "${printable(input)}": at most ${MAX_CHANNEL_SEGMENTS} segments` }
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!
    const last = i === segments.length - 1
    if (last && pattern) {
      if (!ID_PREFIX.test(segment.slice(0, -1))) return { ok: false, reason: `invalid pattern "${printable(input)}": only a trailing * is allowed` }
      continue
    }
    if (!ID.test(segment) || ONLY_DOTS.test(segment)) {
      return { ok: false, reason: `invalid id in channel "${printable(input)}": each segment after the family is 1–128 characters of A–Z a–z 0–9 _ . @ + = ~ -` }
    }
  }
  return { ok: true, channel: `${family}:${segments.join(':')}`, pattern }
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
