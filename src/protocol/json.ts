import { ERROR_BAD_REQUEST, ERROR_PAYLOAD_TOO_LARGE } from './code-values'
import { ProtocolError } from './errors'
import { FORBIDDEN_KEYS, forbiddenKey, hasKey } from './records'

/**
 * Safe JSON for frames from the network: size and depth caps, and no prototype keys in what
 * comes out. Never throws. The common frame pays for `JSON.parse` plus a few native string
 * searches; the careful walks run only when the text could need them.
 */

/** Caps applied to a frame before and while it is parsed. */
export interface JsonLimits {
  /**
   * Longest text accepted, in UTF-16 code units (`string.length`; bytes on the wire may be up
   * to 3× that for non-ASCII text, so the gateway caps bytes separately with `maxPayload`).
   * @default 1_048_576 (1 MiB)
   */
  maxLength?: number
  /**
   * Deepest nesting of objects and arrays accepted. The check is a linear scan that never
   * recurses, so a 10,000-deep frame is refused without touching the stack.
   * @default 64
   */
  maxDepth?: number
}

export const DEFAULT_MAX_JSON_LENGTH = 1_048_576
export const DEFAULT_MAX_JSON_DEPTH = 64

export type JsonResult = { ok: true; value: unknown } | { ok: false; error: ProtocolError }

/**
 * Parses one frame's text. Returns the value with every `__proto__`, `constructor` and
 * `prototype` own key removed at any depth, or a typed error saying what was wrong
 * (never the frame's content: an error may be logged or sent back).
 */
export function parseJson(text: unknown, limits?: JsonLimits): JsonResult {
  if (typeof text !== 'string') return { ok: false, error: notText(text) }
  const maxLength = limits?.maxLength ?? DEFAULT_MAX_JSON_LENGTH
  const maxDepth = limits?.maxDepth ?? DEFAULT_MAX_JSON_DEPTH
  if (text.length > maxLength) {
    return { ok: false, error: new ProtocolError(ERROR_PAYLOAD_TOO_LARGE, `expected a frame of at most ${maxLength} characters, got ${text.length}`) }
  }
  // Depth cannot exceed the number of `{` and `[` in the text; count them natively and scan
  // properly only when there are more than the cap allows.
  if (countOpeners(text, maxDepth) > maxDepth) {
    const depth = deepestNesting(text, maxDepth)
    if (depth > maxDepth) {
      return { ok: false, error: new ProtocolError(ERROR_BAD_REQUEST, `expected JSON nested at most ${maxDepth} levels deep, got more than ${maxDepth}`) }
    }
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    // The engine's message quotes the input; ours must not (errors are logged and sent back).
    return { ok: false, error: new ProtocolError(ERROR_BAD_REQUEST, `expected JSON text, got ${text.length === 0 ? 'an empty frame' : `${text.length} characters that are not valid JSON`}`) }
  }
  // A key can only be dangerous if its name is in the text, literally or behind a \u escape.
  if (mayHoldForbiddenKey(text)) dropForbiddenKeys(value)
  return { ok: true, value }
}

/**
 * The same guarantees for a value that was parsed elsewhere (a Socket.IO packet, an in-process
 * frame): depth capped, forbidden keys removed in place, cycles tolerated. Walks the whole value.
 */
export function sanitizeValue(value: unknown, limits?: Pick<JsonLimits, 'maxDepth'>): JsonResult {
  const maxDepth = limits?.maxDepth ?? DEFAULT_MAX_JSON_DEPTH
  if (value === null || typeof value !== 'object') return { ok: true, value }
  const seen = new Set<object>()
  const stack: Array<[object, number]> = [[value, 1]]
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!
    if (depth > maxDepth) {
      return { ok: false, error: new ProtocolError(ERROR_BAD_REQUEST, `expected a value nested at most ${maxDepth} levels deep, got more than ${maxDepth}`) }
    }
    if (seen.has(node)) continue
    seen.add(node)
    if (Array.isArray(node)) {
      for (const item of node) if (item !== null && typeof item === 'object') stack.push([item, depth + 1])
      continue
    }
    const record = node as Record<string, unknown>
    for (const key of FORBIDDEN_KEYS) if (hasKey(record, key)) delete record[key]
    for (const key of Object.keys(record)) {
      const item = record[key]
      if (item !== null && typeof item === 'object') stack.push([item, depth + 1])
    }
  }
  return { ok: true, value }
}

function notText(frame: unknown): ProtocolError {
  let got: string
  if (frame === null) got = 'null'
  else if (typeof frame !== 'object') got = typeof frame
  else if (frame instanceof ArrayBuffer || ArrayBuffer.isView(frame)) got = `a binary frame (${(frame as ArrayBuffer).byteLength} bytes)`
  else if (typeof Blob !== 'undefined' && frame instanceof Blob) got = `a binary frame (Blob, ${frame.size} bytes)`
  else if (Array.isArray(frame)) got = 'an array'
  else got = 'an object'
  return new ProtocolError(ERROR_BAD_REQUEST, `expected a text frame, got ${got}`)
}

/** How many `{` and `[` the text holds, counting no further than `limit + 1`. */
function countOpeners(text: string, limit: number): number {
  let n = 0
  for (let i = text.indexOf('{'); i !== -1 && n <= limit; i = text.indexOf('{', i + 1)) n++
  for (let i = text.indexOf('['); i !== -1 && n <= limit; i = text.indexOf('[', i + 1)) n++
  return n
}

/** The deepest nesting in the text, stopping as soon as it passes `limit`. Brackets inside strings do not count. */
function deepestNesting(text: string, limit: number): number {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c /* \ */) i++
      else if (c === 0x22 /* " */) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > limit) return depth
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--
  }
  return depth
}

function mayHoldForbiddenKey(text: string): boolean {
  return text.includes('__proto__') || text.includes('constructor') || text.includes('prototype') || text.includes('\\u')
}

/** Removes forbidden own keys at every depth, iteratively (depth is already capped). */
function dropForbiddenKeys(value: unknown): void {
  if (value === null || typeof value !== 'object') return
  const stack: object[] = [value]
  while (stack.length > 0) {
    const node = stack.pop()!
    if (Array.isArray(node)) {
      for (const item of node) if (item !== null && typeof item === 'object') stack.push(item)
      continue
    }
    // `JSON.parse` makes every key own and enumerable: `Object.keys` sees the forbidden ones too.
    const record = node as Record<string, unknown>
    for (const key of Object.keys(record)) {
      const item = record[key]
      if (forbiddenKey(key)) delete record[key]
      else if (item !== null && typeof item === 'object') stack.push(item)
    }
  }
}
