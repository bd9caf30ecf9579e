import type * as z from 'zod/mini'
import { ERROR_BAD_REQUEST } from './code-values'
import { ProtocolError } from './errors'
import { getKey, hasKey } from './records'

/**
 * Validation with messages a person can act on: what was expected, where, and what came,
 * e.g. `"subscribe" expects channel to be a string, got number`. Values are quoted only when
 * short primitives, so a message never carries a frame's payload.
 */

type Issue = z.core.$ZodIssue
type Key = string | number

export type Validated<T> = { ok: true; value: T } | { ok: false; error: ProtocolError }

/**
 * Parses `value` with `schema`; on failure, describes the first problem as a `ProtocolError`
 * whose message names the frame (`"event"`) and the path, and whose `path` is that path.
 */
export function validate<S extends z.ZodMiniType>(schema: S, value: unknown, frame: string): Validated<z.infer<S>> {
  const first = schema.safeParse(value)
  if (first.success) return { ok: true, value: first.data }
  // Run again asking for inputs: only the failure path pays for it.
  const again = schema.safeParse(value, { reportInput: true })
  const issues = again.success ? first.error.issues : again.error.issues
  return { ok: false, error: issueError(frame, issues) }
}

/** A `ProtocolError` for the first of `issues`, with a count of the rest. */
export function issueError(frame: string, issues: readonly Issue[], prefix: readonly Key[] = []): ProtocolError {
  const issue = issues[0]
  if (issue === undefined) return new ProtocolError(ERROR_BAD_REQUEST, `"${frame}" is invalid`)
  const { text, path } = describeIssue(frame, issue, prefix)
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more ${issues.length === 2 ? 'problem' : 'problems'})` : ''
  return new ProtocolError(ERROR_BAD_REQUEST, text + more, { path })
}

/** One issue as a sentence, with its full path. */
export function describeIssue(frame: string, issue: Issue, prefix: readonly Key[] = []): { text: string; path: Key[] } {
  const path = [...prefix, ...issue.path.map((k) => (typeof k === 'number' ? k : String(k)))]
  // Records and maps report the problem inside: describe that one, at its own path.
  if ((issue.code === 'invalid_key' || issue.code === 'invalid_element') && issue.issues[0]) {
    return describeIssue(frame, issue.issues[0], path)
  }
  const where = path.length === 0 ? 'the frame' : formatPath(path)
  const head = `"${frame}" expects ${where}`
  const hasInput = issue.input !== undefined
  switch (issue.code) {
    case 'invalid_type': {
      // zod names a non-finite number in `received` ("NaN", "Infinity") and passes it as a string input.
      const received = (issue as { received?: unknown }).received
      const got = typeof received === 'string' ? received : hasInput ? kindOf(issue.input) : 'nothing'
      return { text: `${head} to be ${article(issue.expected)}, got ${got}`, path }
    }
    case 'invalid_value': {
      const want = issue.values.length === 1 ? `to be ${quote(issue.values[0])}` : `to be one of ${issue.values.map(String).join(', ')}`
      return { text: `${head} ${want}, got ${hasInput ? valueOf(issue.input) : 'nothing'}`, path }
    }
    case 'too_big':
    case 'too_small': {
      const big = issue.code === 'too_big'
      const limit = big ? issue.maximum : issue.minimum
      const bound = issue.exact ? 'exactly' : big ? (issue.inclusive === false ? 'less than' : 'at most') : issue.inclusive === false ? 'more than' : 'at least'
      const unit = issue.origin === 'string' ? ' characters' : issue.origin === 'array' || issue.origin === 'set' ? ' items' : ''
      return { text: `${head} to be ${bound} ${String(limit)}${unit}, got ${sizeOf(issue.input, issue.origin)}`, path }
    }
    case 'invalid_union': {
      if (issue.discriminator !== undefined && 'options' in issue && issue.options) {
        // zod passes the whole object as input; the value that failed is its discriminator.
        const input = issue.input
        const tag = input !== null && typeof input === 'object' && hasKey(input as Record<string, unknown>, issue.discriminator) ? (input as Record<string, unknown>)[issue.discriminator] : undefined
        return { text: `${head} to be one of ${issue.options.map(String).join(', ')}, got ${tag === undefined ? 'nothing' : valueOf(tag)}`, path }
      }
      return { text: `${head} to match one of its allowed forms, got ${hasInput ? kindOf(issue.input) : 'nothing'}`, path }
    }
    case 'invalid_format':
      return { text: `${head} to be a valid ${issue.format}`, path }
    case 'unrecognized_keys':
      return { text: `${head} to have no keys ${issue.keys.map((k) => printable(k)).join(', ')}`, path }
    default:
      return { text: `${head} to be valid (${issue.code ?? 'custom'})`, path }
  }
}

/** `event.payload.status`, `channels[0].channel`. */
export function formatPath(path: readonly Key[]): string {
  let out = ''
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`
    else out += out === '' ? printable(key) : `.${printable(key)}`
  }
  return out
}

const ARTICLES: Record<string, string> = {
  string: 'a string',
  number: 'a finite number',
  int: 'an integer',
  boolean: 'a boolean',
  object: 'an object',
  record: 'an object',
  array: 'an array',
  tuple: 'an array',
  null: 'null',
  undefined: 'absent',
}

function article(expected: string): string {
  return getKey(ARTICLES, expected) ?? expected
}

/** The kind of a value, and the value itself where it is the point (NaN, Infinity). */
export function kindOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value)
  if (typeof value === 'number' && !Number.isInteger(value)) return `number ${value}`
  return typeof value
}

function valueOf(value: unknown): string {
  if (typeof value === 'string') return value.length <= 40 ? JSON.stringify(printable(value)) : `a string of ${value.length} characters`
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value)
  return kindOf(value)
}

function quote(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value)
}

function sizeOf(value: unknown, origin: string): string {
  if (typeof value === 'string' && origin === 'string') return `${value.length}`
  if (Array.isArray(value)) return `${value.length}`
  if (typeof value === 'number') return String(value)
  return value === undefined ? 'more' : kindOf(value)
}

/** Control and non-ASCII characters become `?`, long text is cut, so a message is safe to log. */
export function printable(s: string, max = 40): string {
  const cut = s.length > max ? `${s.slice(0, max)}…` : s
  return cut.replace(/[^\x20-\x7e…]/g, '?')
}
