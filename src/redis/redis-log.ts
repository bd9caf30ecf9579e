import { createHash, randomBytes } from 'node:crypto'
import { initialState } from 'agentwire/protocol'
import type { AgentEvent, AgentwireState } from 'agentwire/protocol'
import type { StoredEvent } from 'agentwire/server'
import type { RedisClient } from './connection'
import { hasKey } from '../protocol/records'

/**
 * The positioned log in Redis that `redisBroker` and `createPublisher` share: key layout, the
 * Lua scripts, and how a channel's log, head and state are read back. Appending is the log
 * writer's (log-writer.ts). The design is described at the top of redis-broker.ts.
 */

/** Key names under one prefix. Channel names never contain `\n`, so the notify payload can be line-framed. */
export interface Keys {
  readonly prefix: string
  meta(channel: string): string
  log(channel: string): string
  readonly channels: string
  /** A hash: `epoch` and `n`, the count of channels born (first event appended) in that epoch. */
  readonly births: string
  /** A sorted set: each channel born in the current births epoch, scored by its birth number. */
  readonly born: string
  /** The Pub/Sub channel (or, for a pattern, the PSUBSCRIBE glob) that announces new entries. */
  notify(channelOrPattern: string): string
  /** The inverse of `notify` for a concrete channel. */
  channelOfNotify(notifyChannel: string): string | undefined
}

export function keysFor(prefix: string): Keys {
  const notifyPrefix = `${prefix}:n:`
  return {
    prefix,
    meta: (c) => `${prefix}:meta:${c}`,
    log: (c) => `${prefix}:log:${c}`,
    channels: `${prefix}:channels`,
    births: `${prefix}:births`,
    born: `${prefix}:born`,
    notify: (c) => (c.endsWith('*') ? `${escapeGlob(notifyPrefix)}${escapeGlob(c.slice(0, -1))}*` : `${notifyPrefix}${c}`),
    channelOfNotify: (n) => (n.startsWith(notifyPrefix) ? n.slice(notifyPrefix.length) : undefined),
  }
}

/** Escapes Redis glob metacharacters so a prefix is matched literally. */
export function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`)
}

/** A fresh epoch: random, so two lives of one channel never share one. */
export function newEpoch(): string {
  return randomBytes(9).toString('base64url')
}

// ── Lua ────────────────────────────────────────────────────────────────────────────────

/**
 * Appends a batch of events if the caller's view of the channel is current (compare-and-set on
 * epoch + seq), and stores the state the caller reduced. Position and state change in one
 * atomic step, so a snapshot is never ahead of or behind its seq.
 * KEYS: meta, log, channels, births, born. ARGV: expectEpoch, expectSeq (-1 = unknown), state ('' =
 * unchanged: keep the stored one), candidateEpoch, time, maxLen, minTime (0 = no age limit),
 * channel, notifyChannel, event...
 * Returns {1, epoch, firstSeq} or, when the view is stale, {0, epoch, seq, state}.
 *
 * Per event it runs XADD and PUBLISH, per call one HMGET and one HSET: the channel joins the
 * channel set when its first entry is appended (not on every call), and the age limit is
 * checked against `head`, the time of the oldest entry the script knows of, so the log is read
 * (XRANGE) only when that entry may have expired. `head` is never later than the real oldest
 * entry (MAXLEN only removes older ones), so nothing expired is kept past the next publish.
 * The HSET writes only what changed: `seq` always, `state` unless the writer says it is the
 * one stored (events that leave the state as it was), `head` when it moved.
 *
 * At low rates Redis's cost of a call is mostly its fixed part (waking up, reading the call,
 * running the script, writing the replies and the fan-out), not the commands inside; see
 * bench/profile-publish.mjs for the breakdown per command.
 */
const PUBLISH_SCRIPT = `
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'seq', 'head')
local epoch = meta[1]
if not epoch then
  redis.call('DEL', KEYS[2])
  epoch = ARGV[4]
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', '0', 'state', '')
  meta[2] = '0'
  meta[3] = false
end
local seq = tonumber(meta[2] or '0')
local expect = tonumber(ARGV[2])
if seq ~= expect or (expect > 0 and epoch ~= ARGV[1]) then
  return {0, epoch, seq, redis.call('HGET', KEYS[1], 'state') or ''}
end
local first = seq + 1
local time = ARGV[5]
local head = tonumber(meta[3])
local known = head
if seq == 0 then
  redis.call('SADD', KEYS[3], ARGV[8])
  head = tonumber(time)
  -- The channel's birth: numbered in the births count, a pattern's position (redis-broker.ts).
  if redis.call('HSETNX', KEYS[4], 'epoch', ARGV[4] .. 'b') == 1 then redis.call('DEL', KEYS[5]) end
  redis.call('ZADD', KEYS[5], redis.call('HINCRBY', KEYS[4], 'n', 1), ARGV[8])
end
for i = 10, #ARGV do
  seq = seq + 1
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], seq .. '-0', 't', time, 'e', ARGV[i])
  redis.call('PUBLISH', ARGV[9], ARGV[8] .. '\\n' .. epoch .. '\\n' .. seq .. '\\n' .. time .. '\\n' .. ARGV[i])
end
local minTime = tonumber(ARGV[7])
if minTime > 0 and (head == nil or head < minTime) then
  -- Entries expire oldest first, and between two publishes only a few do: read 16, and the next
  -- 496 only when all 16 expired (at most 512 a call; a longer backlog goes over the next calls).
  local batch = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 16)
  local oldest = batch[1] and batch[1][1]
  local last = nil
  local keep = nil
  head = nil
  for round = 1, 2 do
    for _, entry in ipairs(batch) do
      local t = tonumber(entry[2][2])
      if t >= minTime then keep = entry[1] head = t break end
      last = entry[1]
    end
    if keep or #batch < 16 or round == 2 then break end
    batch = redis.call('XRANGE', KEYS[2], '(' .. last, '+', 'COUNT', 496)
  end
  if not keep and last then keep = (tonumber(string.match(last, '^%d+')) + 1) .. '-0' end
  if keep and keep ~= oldest then redis.call('XTRIM', KEYS[2], 'MINID', keep) end
end
head = head or 0
if ARGV[3] == '' then
  if head == known then redis.call('HSET', KEYS[1], 'seq', seq)
  else redis.call('HSET', KEYS[1], 'seq', seq, 'head', head) end
elseif head == known then redis.call('HSET', KEYS[1], 'seq', seq, 'state', ARGV[3])
else redis.call('HSET', KEYS[1], 'seq', seq, 'state', ARGV[3], 'head', head) end
return {1, epoch, first}
`

/**
 * Reads a channel's head and the entries from a seq on, atomically.
 * KEYS: meta, log. ARGV: start seq, count (0 = all). Returns {epoch or '', seq, entries}.
 */
const READ_SCRIPT = `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local seq = redis.call('HGET', KEYS[1], 'seq') or '0'
local entries = {}
if epoch then
  if ARGV[2] == '0' then
    entries = redis.call('XRANGE', KEYS[2], ARGV[1] .. '-0', '+')
  else
    entries = redis.call('XRANGE', KEYS[2], ARGV[1] .. '-0', '+', 'COUNT', ARGV[2])
  end
end
return {epoch or '', seq, entries}
`

/**
 * A channel's position and state, creating its epoch if it has none (so the position a client
 * is handed can be honoured later). KEYS: meta, log. ARGV: candidateEpoch.
 */
const SNAPSHOT_SCRIPT = `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  redis.call('DEL', KEYS[2])
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', '0', 'state', '')
end
return {epoch, redis.call('HGET', KEYS[1], 'seq') or '0', redis.call('HGET', KEYS[1], 'state') or ''}
`

/**
 * The births count now (a pattern's position), creating its epoch if it has none.
 * KEYS: births, born. ARGV: candidateEpoch. Returns {epoch, n}.
 */
const WATERMARK_SCRIPT = `
if redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1]) == 1 then redis.call('DEL', KEYS[2]) end
return redis.call('HMGET', KEYS[1], 'epoch', 'n')
`

/**
 * The channels born after a births position: those numbered above `n` when the epoch is the
 * same, every one born in this epoch otherwise. KEYS: births, born. ARGV: epoch, n.
 * Returns a flat list: channel, birth, channel, birth...
 */
const BORN_AFTER_SCRIPT = `
local min = '-inf'
if redis.call('HGET', KEYS[1], 'epoch') == ARGV[1] then min = '(' .. ARGV[2] end
return redis.call('ZRANGEBYSCORE', KEYS[2], min, '+inf', 'WITHSCORES')
`

export interface Script {
  readonly source: string
  readonly sha: string
}
const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') })
export const SCRIPTS = {
  publish: script(PUBLISH_SCRIPT),
  read: script(READ_SCRIPT),
  snapshot: script(SNAPSHOT_SCRIPT),
  watermark: script(WATERMARK_SCRIPT),
  bornAfter: script(BORN_AFTER_SCRIPT),
}

/** EVALSHA, falling back to EVAL when Redis lost its script cache (restart, SCRIPT FLUSH). */
export async function run(client: RedisClient, s: Script, keys: string[], args: string[]): Promise<unknown> {
  try {
    return await client.sendCommand(['EVALSHA', s.sha, String(keys.length), ...keys, ...args])
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
      return await client.sendCommand(['EVAL', s.source, String(keys.length), ...keys, ...args])
    }
    throw err
  }
}

// ── state as JSON ──────────────────────────────────────────────────────────────────────

/**
 * Stored state back to the shape `reduce` builds: the keyed collections are null-prototype
 * objects there (so an id like `__proto__` is an ordinary key), which JSON cannot carry.
 */
/** Where a channel's stored state keeps the application's reducer states (beside the built-in keys). */
const REDUCED_KEY = '$reduced'

/**
 * The JSON text of each part of a state, by identity: `reduce` is pure and gives a changed part
 * a new object, so a part that is the same object as at the last publish has the same text, and
 * a publish re-serialises only what its events changed (not the channel's whole state).
 */
const partText = new WeakMap<object, string>()

/**
 * A state and the application's reducer states as one stored text: the text of
 * `JSON.stringify({ ...state, $reduced: reduced })`, with the unchanged parts of the state taken
 * from the last call. The application's reducer states are serialised every time (their
 * reducers are the application's, not known to be pure).
 */
export function storeText(state: AgentwireState, reduced: Readonly<Record<string, unknown>> | undefined): string {
  let out = ''
  for (const key of Object.keys(state)) {
    const value = (state as unknown as Record<string, unknown>)[key]
    let text: string | undefined
    if (value !== null && typeof value === 'object') {
      text = partText.get(value)
      if (text === undefined) partText.set(value, (text = JSON.stringify(value)))
    } else text = JSON.stringify(value)
    // What JSON.stringify leaves out of an object (undefined, functions) is left out here too.
    if (text === undefined) continue
    out += `${out === '' ? '{' : ','}${JSON.stringify(key)}:${text}`
  }
  if (reduced !== undefined) {
    const text = JSON.stringify(reduced) as string | undefined
    if (text !== undefined) out += `${out === '' ? '{' : ','}${JSON.stringify(REDUCED_KEY)}:${text}`
  }
  return out === '' ? '{}' : `${out}}`
}

/** A stored text back to the state and the reducer states it carries. */
export function parseStored(text: string): { state: AgentwireState; reduced?: Readonly<Record<string, unknown>> } {
  const state = parseState(text)
  if (text === '' || !text.includes(REDUCED_KEY)) return { state }
  const value = (JSON.parse(text) as Record<string, unknown>)[REDUCED_KEY]
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { state }
  return { state, reduced: Object.assign(Object.create(null) as Record<string, unknown>, value) }
}

export function parseState(text: string): AgentwireState {
  const initial = initialState()
  if (text === '') return initial
  const parsed = JSON.parse(text) as Record<string, unknown>
  const out: Record<string, unknown> = { ...initial }
  for (const key of Object.keys(initial) as Array<keyof AgentwireState>) {
    if (!hasKey(parsed, key)) continue
    const value = parsed[key]
    const template = initial[key]
    if (template !== null && typeof template === 'object' && !Array.isArray(template) && Object.getPrototypeOf(template) === null && value !== null && typeof value === 'object') {
      const bare = Object.create(null) as Record<string, unknown>
      for (const k of Object.keys(value)) bare[k] = (value as Record<string, unknown>)[k]
      out[key] = bare
    } else out[key] = value
  }
  return out as unknown as AgentwireState
}

// ── reading ────────────────────────────────────────────────────────────────────────────

export interface LogRead {
  /** '' when the channel has no epoch (never published, or its log was lost). */
  readonly epoch: string
  readonly head: number
  readonly events: StoredEvent[]
}

export async function readLog(client: RedisClient, keys: Keys, channel: string, fromSeq: number, count: number): Promise<LogRead> {
  const reply = (await run(client, SCRIPTS.read, [keys.meta(channel), keys.log(channel)], [String(fromSeq), String(count)])) as [string, string, Array<[string, string[]]>]
  const [epoch, head, entries] = reply
  const events: StoredEvent[] = []
  for (const [id, fields] of entries) {
    let time = 0
    let text = ''
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === 't') time = Number(fields[i + 1])
      else if (fields[i] === 'e') text = fields[i + 1] ?? ''
    }
    events.push({ channel, epoch, seq: Number.parseInt(id, 10), time, event: JSON.parse(text) as AgentEvent })
  }
  return { epoch, head: Number(head), events }
}

export async function readSnapshot(
  client: RedisClient,
  keys: Keys,
  channel: string,
): Promise<{ epoch: string; seq: number; state: AgentwireState; reduced?: Readonly<Record<string, unknown>> }> {
  const [epoch, seq, state] = (await run(client, SCRIPTS.snapshot, [keys.meta(channel), keys.log(channel)], [newEpoch()])) as [string, string, string]
  return { epoch, seq: Number(seq), ...parseStored(state) }
}

/** Parses one notify message: `channel\nepoch\nseq\ntime\nevent-json`. */
export function parseNotify(message: string): { channel: string; epoch: string; seq: number; time: number; text: string } | undefined {
  const a = message.indexOf('\n')
  const b = message.indexOf('\n', a + 1)
  const c = message.indexOf('\n', b + 1)
  const d = message.indexOf('\n', c + 1)
  if (a < 0 || b < 0 || c < 0 || d < 0) return undefined
  const seq = Number(message.slice(b + 1, c))
  const time = Number(message.slice(c + 1, d))
  if (!Number.isSafeInteger(seq) || seq < 1) return undefined
  return { channel: message.slice(0, a), epoch: message.slice(a + 1, b), seq, time, text: message.slice(d + 1) }
}
