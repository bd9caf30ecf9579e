import { AgentwireError } from 'agentwire/protocol'
import type { AuthorizeAction, GatewayLogger } from './options'

/**
 * What one connection may receive through a pattern. `authorize` is asked for the pattern when
 * it is subscribed, and then for each concrete channel the pattern brings, before that
 * channel's first event, replay or state reaches the socket: a policy written per channel (a
 * deny-list such as "nobody but bob reads `user:bob`") holds under `user:*` and `*` too.
 *
 * Answers are kept per channel for the connection's life, so a busy channel costs one question;
 * they are forgotten when the connection's token is renewed, and a resume asks again. A hook
 * that throws refuses; one that throws a retryable `AgentwireError` ("not now") gives up the
 * connection with a retryable close instead (`onUnavailable`), so the client resumes from its
 * positions and asks again, rather than missing events of a channel it may read.
 */
export interface Grants {
  /** Whether `channel` may reach the connection: the kept answer, else `authorize`'s (asked anew when `fresh`). Never rejects. */
  check(channel: string, action: AuthorizeAction, fresh?: boolean): Promise<boolean>
  /** An answer `authorize` gave for `channel` itself (a direct subscribe), kept as the channel's. */
  record(channel: string, allowed: boolean): void
  /**
   * A live event of `channel` under a pattern: `pass` runs at once when the channel is known to
   * be allowed, after the answer when it is being asked (in order with the channel's other
   * events held meanwhile), and never when it is refused.
   */
  gate(channel: string, pass: () => void): void
  /** Forgets every answer (the token was renewed): each channel is asked again before its next event. */
  forget(): void
  /** Forgets everything, held events included (the connection closed). */
  clear(): void
}

export interface GrantsOptions {
  authorize(channel: string, action: AuthorizeAction): Promise<boolean>
  log: GatewayLogger
  session: string
  /** Events held per channel while its answer is awaited; past it the connection is given up. */
  maxHeld: number
  onOverflow(): void
  /** `authorize` threw a retryable error: the connection is given up, to be resumed. */
  onUnavailable(): void
}

export function createGrants(options: GrantsOptions): Grants {
  const answers = new Map<string, boolean>()
  const asking = new Map<string, Promise<boolean>>()
  const held = new Map<string, Array<() => void>>()
  /** Bumped by `forget`: an answer asked before it is used once, not kept. */
  let generation = 0

  function ask(channel: string, action: AuthorizeAction): Promise<boolean> {
    const asked = generation
    let keep = true
    const question: Promise<boolean> = options
      .authorize(channel, action)
      .catch((error: unknown) => {
        options.log({ level: 'error', message: 'authorize threw; refusing', data: { session: options.session, channel } })
        if (error instanceof AgentwireError && error.retryable) {
          keep = false
          options.onUnavailable()
        }
        return false
      })
      .then((allowed) => {
        if (asking.get(channel) === question) asking.delete(channel)
        if (keep && asked === generation) answers.set(channel, allowed)
        return allowed
      })
    asking.set(channel, question)
    return question
  }

  function check(channel: string, action: AuthorizeAction, fresh = false): Promise<boolean> {
    if (fresh) {
      // The old answer no longer lets events through: they wait for the new one.
      answers.delete(channel)
      return ask(channel, action)
    }
    const known = answers.get(channel)
    if (known !== undefined) return Promise.resolve(known)
    return asking.get(channel) ?? ask(channel, action)
  }

  return {
    check,
    record(channel, allowed) {
      answers.set(channel, allowed)
    },
    gate(channel, pass) {
      const waiting = held.get(channel)
      if (waiting) {
        if (waiting.length >= options.maxHeld) return options.onOverflow()
        waiting.push(pass)
        return
      }
      const known = answers.get(channel)
      if (known === true) return pass()
      if (known === false) return
      const queue = [pass]
      held.set(channel, queue)
      void check(channel, 'subscribe').then((allowed) => {
        if (held.get(channel) !== queue) return
        held.delete(channel)
        if (allowed) for (const next of queue) next()
      })
    },
    forget() {
      generation++
      answers.clear()
      asking.clear()
    },
    clear() {
      generation++
      answers.clear()
      asking.clear()
      held.clear()
    },
  }
}
