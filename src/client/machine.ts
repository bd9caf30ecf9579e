import { isLimitClose, isRetryableClose, parseReconnectHint, type ReconnectHint } from 'agentwire/protocol'
import {
  CLOSE_ABNORMAL,
  CLOSE_CONNECT_TIMEOUT,
  CLOSE_FORBIDDEN,
  CLOSE_HEARTBEAT_TIMEOUT,
  CLOSE_NO_STATUS,
  CLOSE_NORMAL,
  CLOSE_PROTOCOL_ERRORS,
  CLOSE_UNAUTHORIZED,
} from '../protocol/code-values'
import type { ConnectionStatus, StateChange } from './types'

/**
 * The connection as data. Every state names what it waits for and carries what that needs;
 * `transition` is pure and returns the next state plus the effects the shell (`client.ts`)
 * must run. Nothing here touches a socket or a timer, so the whole lifecycle is a table test.
 *
 * `generation` numbers sockets: each opening gets a new one, and every socket event carries the
 * generation it came from, so a late `close` or `welcome` from an abandoned socket changes
 * nothing.
 */
export type ConnectionState =
  | { readonly status: 'idle'; readonly generation: number }
  | {
      readonly status: 'connecting'
      readonly generation: number
      /** Failures since the last stable connection; 0 on a first connect. */
      readonly attempt: number
      /** `socket`: waiting for the transport to open; `handshake`: hello sent, waiting for welcome. */
      readonly phase: 'socket' | 'handshake'
      /** This attempt follows a refused token: a second refusal is final. */
      readonly authRetry: boolean
    }
  | { readonly status: 'open'; readonly generation: number; readonly attempt: number; readonly openedAt: number }
  | {
      readonly status: 'reconnecting'
      readonly generation: number
      readonly attempt: number
      /** When the retry timer fires (clock time). */
      readonly dueAt: number
      readonly lastClose: CloseInfo
    }
  | { readonly status: 'offline'; readonly generation: number; readonly attempt: number }
  | { readonly status: 'unauthorized'; readonly generation: number; readonly lastClose: CloseInfo }
  | { readonly status: 'closed'; readonly generation: number; readonly lastClose?: CloseInfo }

export interface CloseInfo {
  readonly code: number
  readonly reason: string
}

export type MachineEvent =
  /** `client.connect()` (or the first subscribe with autoConnect off). */
  | { readonly type: 'connect' }
  /** `client.reconnect()`: now, skipping any backoff wait. */
  | { readonly type: 'reconnect' }
  /** `client.close()`. */
  | { readonly type: 'close' }
  | { readonly type: 'socketOpen'; readonly generation: number }
  | { readonly type: 'welcome'; readonly generation: number }
  | { readonly type: 'socketClosed'; readonly generation: number; readonly code: number; readonly reason: string }
  /** The token function failed or threw: a retryable failure of this attempt. */
  | { readonly type: 'tokenFailed'; readonly generation: number; readonly reason: string }
  /** After a refused token, the token function returned the same token again. */
  | { readonly type: 'tokenUnchanged'; readonly generation: number }
  | { readonly type: 'connectTimeout'; readonly generation: number }
  /** The liveness deadline passed with nothing received. */
  | { readonly type: 'dead'; readonly generation: number }
  /** Too many consecutive undecodable frames. */
  | { readonly type: 'protocolErrors'; readonly generation: number }
  | { readonly type: 'retryDue' }
  | { readonly type: 'offline' }
  /** The network came back (`online`), or the page woke up (`visibilitychange` to visible, `pageshow`). */
  | { readonly type: 'online' }
  | { readonly type: 'wake' }

export type Effect =
  /** Ask for the token, then open a transport connection tagged with `generation`. */
  | { readonly type: 'openSocket'; readonly generation: number }
  /** Close the current transport connection (and forget it: its late events are stale). */
  | { readonly type: 'closeSocket'; readonly code: number; readonly reason: string }
  | { readonly type: 'sendHello' }
  | { readonly type: 'armConnectTimeout' }
  | { readonly type: 'scheduleRetry'; readonly delayMs: number }
  /** Cancel the retry and connect-timeout timers. */
  | { readonly type: 'cancelTimers' }
  | { readonly type: 'startHeartbeat' }
  | { readonly type: 'stopHeartbeat' }
  /** Send a ping now and tighten the liveness deadline: is this socket still alive? */
  | { readonly type: 'probe' }
  /** The connection is ready: restore subscriptions, re-send unanswered commands, flush the outbox. */
  | { readonly type: 'ready'; readonly generation: number }
  /** The connection is gone: subscriptions wait for the next one; sent commands wait to be re-sent. */
  | { readonly type: 'lost' }
  /** No connection will come without the user acting: reject queued and unanswered commands with this. */
  | { readonly type: 'rejectPending'; readonly code: 'unauthorized' | 'closed'; readonly message: string }
  /** For good: reject what is still pending with ClientClosedError, drop environment listeners. */
  | { readonly type: 'terminate' }
  | { readonly type: 'emitState'; readonly change: StateChange }

/** What the machine needs to know besides the state: the time, the policy, and a delay source. */
export interface MachineContext {
  readonly now: number
  /** The codec speaks hello/welcome; otherwise the socket opening is the connection being open. */
  readonly handshake: boolean
  readonly maxRetries: number
  readonly stableAfterMs: number
  /** The token is a function, so a refused token may be asked for again once. */
  readonly tokenRefreshable: boolean
  /**
   * The backoff delay before retry number `attempt` (1-based), with the gateway's reconnect
   * hint when the close that ended the connection carried one (a drain's 1012).
   */
  delay(attempt: number, hint?: ReconnectHint): number
  /** The wait after a limit close (4430, 4429): the policy's longest delay. Absent: the backoff. */
  readonly limitDelayMs?: number
}

export interface TransitionResult {
  readonly state: ConnectionState
  readonly effects: readonly Effect[]
}

export const initialConnectionState: ConnectionState = { status: 'idle', generation: 0 }

/** Statuses in which a transport connection exists (opening or open). */
export function hasSocket(state: ConnectionState): boolean {
  return state.status === 'connecting' || state.status === 'open'
}

const HEARTBEAT_REASON = 'no frame within the heartbeat deadline'
const CONNECT_TIMEOUT_REASON = 'no welcome within the connect timeout'
const PROTOCOL_REASON = 'too many undecodable frames'

export function transition(state: ConnectionState, event: MachineEvent, ctx: MachineContext): TransitionResult {
  // Events from a socket this state no longer owns change nothing.
  if ('generation' in event && (!hasSocket(state) || event.generation !== state.generation)) return same(state)

  switch (event.type) {
    case 'connect':
      if (state.status === 'idle' || state.status === 'closed' || state.status === 'unauthorized') return startConnecting(state, 0, false)
      return same(state)

    case 'reconnect':
      switch (state.status) {
        case 'open':
          return startConnecting(state, 0, false, [{ type: 'closeSocket', code: CLOSE_NORMAL, reason: 'reconnect' }, ...leaveOpen()])
        case 'connecting':
          return startConnecting(state, state.attempt, false, [{ type: 'closeSocket', code: CLOSE_NORMAL, reason: 'reconnect' }])
        case 'reconnecting':
        case 'offline':
          return startConnecting(state, state.attempt, false)
        default:
          return startConnecting(state, 0, false)
      }

    case 'close':
      if (state.status === 'closed') return same(state)
      return to(
        state,
        { status: 'closed', generation: state.generation },
        [
          { type: 'cancelTimers' },
          ...(state.status === 'open' ? leaveOpen() : []),
          ...(hasSocket(state) ? [{ type: 'closeSocket', code: CLOSE_NORMAL, reason: 'client closed' } as const] : []),
          { type: 'terminate' },
        ],
        { code: CLOSE_NORMAL, message: 'client closed' },
      )

    case 'socketOpen':
      if (state.status !== 'connecting' || state.phase !== 'socket') return same(state)
      if (ctx.handshake) return { state: { ...state, phase: 'handshake' }, effects: [{ type: 'sendHello' }] }
      return becomeOpen(state, ctx)

    case 'welcome':
      if (state.status !== 'connecting') return same(state)
      return becomeOpen(state, ctx)

    case 'socketClosed': {
      // A socket that never opened failed to connect, whatever code it reports (browsers say
      // 1006; some runtimes and mocks say 1000, which would otherwise read as "stop for good").
      const neverOpened = state.status === 'connecting' && state.phase === 'socket'
      const code = neverOpened && (event.code === CLOSE_NORMAL || event.code === CLOSE_NO_STATUS) ? CLOSE_ABNORMAL : event.code
      return afterClose(state, { code, reason: event.reason }, ctx, false)
    }

    case 'tokenFailed':
      return afterClose(state, { code: CLOSE_ABNORMAL, reason: event.reason }, ctx, true)

    case 'tokenUnchanged':
      if (state.status !== 'connecting') return same(state)
      return to(
        state,
        { status: 'unauthorized', generation: state.generation, lastClose: { code: CLOSE_UNAUTHORIZED, reason: 'token refused' } },
        [
          { type: 'cancelTimers' },
          { type: 'closeSocket', code: CLOSE_NORMAL, reason: 'token refused' },
          { type: 'rejectPending', code: 'unauthorized', message: 'the token was refused' },
        ],
        { code: CLOSE_UNAUTHORIZED, message: 'the token was refused and the token function returned it again' },
      )

    case 'connectTimeout':
      if (state.status !== 'connecting') return same(state)
      return afterClose(state, { code: CLOSE_CONNECT_TIMEOUT, reason: CONNECT_TIMEOUT_REASON }, ctx, true)

    case 'dead':
      return afterClose(state, { code: CLOSE_HEARTBEAT_TIMEOUT, reason: HEARTBEAT_REASON }, ctx, true)

    case 'protocolErrors':
      return afterClose(state, { code: CLOSE_PROTOCOL_ERRORS, reason: PROTOCOL_REASON }, ctx, true)

    case 'retryDue':
      if (state.status !== 'reconnecting') return same(state)
      return startConnecting(state, state.attempt, false)

    case 'offline':
      if (state.status !== 'connecting' && state.status !== 'open' && state.status !== 'reconnecting') return same(state)
      return to(
        state,
        { status: 'offline', generation: state.generation, attempt: state.status === 'open' ? 0 : state.attempt },
        [
          { type: 'cancelTimers' },
          ...(state.status === 'open' ? leaveOpen() : []),
          ...(hasSocket(state) ? [{ type: 'closeSocket', code: CLOSE_HEARTBEAT_TIMEOUT, reason: 'offline' } as const] : []),
        ],
        { message: 'the network is offline' },
      )

    case 'online':
    case 'wake':
      switch (state.status) {
        case 'open':
          return { state, effects: [{ type: 'probe' }] }
        case 'reconnecting':
          // The wait was for a network that is back, or for timers that a sleeping page did not run.
          return startConnecting(state, state.attempt, false)
        case 'offline':
          return event.type === 'online' ? startConnecting(state, state.attempt, false) : same(state)
        default:
          return same(state)
      }
  }
}

function same(state: ConnectionState): TransitionResult {
  return { state, effects: [] }
}

/** Effects that end an open connection's life. */
function leaveOpen(): Effect[] {
  return [{ type: 'stopHeartbeat' }, { type: 'lost' }]
}

function to(previous: ConnectionState, next: ConnectionState, effects: Effect[], reason?: StateChange['reason']): TransitionResult {
  if (previous.status === next.status) return { state: next, effects }
  const change: StateChange = reason === undefined
    ? { previous: previous.status, current: next.status }
    : { previous: previous.status, current: next.status, reason }
  return { state: next, effects: [...effects, { type: 'emitState', change }] }
}

function startConnecting(state: ConnectionState, attempt: number, authRetry: boolean, before: Effect[] = []): TransitionResult {
  const generation = state.generation + 1
  return to(state, { status: 'connecting', generation, attempt, phase: 'socket', authRetry }, [
    { type: 'cancelTimers' },
    ...before.filter((e) => e.type !== 'cancelTimers'),
    { type: 'openSocket', generation },
    { type: 'armConnectTimeout' },
  ])
}

function becomeOpen(state: Extract<ConnectionState, { status: 'connecting' }>, ctx: MachineContext): TransitionResult {
  return to(state, { status: 'open', generation: state.generation, attempt: state.attempt, openedAt: ctx.now }, [
    { type: 'cancelTimers' },
    { type: 'startHeartbeat' },
    { type: 'ready', generation: state.generation },
  ])
}

/**
 * The socket of a connecting or open state is gone (closed by the server, by the network, or
 * abandoned by the client: `abandon` adds the close effect). Decides between retrying with
 * backoff, asking for a token once more, and stopping.
 */
function afterClose(state: ConnectionState, close: CloseInfo, ctx: MachineContext, abandon: boolean): TransitionResult {
  if (state.status !== 'connecting' && state.status !== 'open') return same(state)
  const wasOpen = state.status === 'open'
  const before: Effect[] = [
    { type: 'cancelTimers' },
    ...(wasOpen ? leaveOpen() : []),
    ...(abandon ? [{ type: 'closeSocket', code: close.code, reason: close.reason } as const] : []),
  ]
  const reason = { code: close.code, message: close.reason }

  if (close.code === CLOSE_UNAUTHORIZED) {
    const authRetry = state.status === 'connecting' && state.authRetry
    if (ctx.tokenRefreshable && !authRetry) {
      // A refreshable token may have expired: ask for it once more, at once.
      return startConnecting(state, state.attempt, true, before)
    }
    return unauthorized(state, close, before)
  }
  if (close.code === CLOSE_FORBIDDEN) return unauthorized(state, close, before)
  if (!isRetryableClose(close.code)) {
    return to(
      state,
      { status: 'closed', generation: state.generation, lastClose: close },
      [...before, { type: 'rejectPending', code: 'closed', message: `the server closed the connection for good (${describe(close)})` }, { type: 'terminate' }],
      reason,
    )
  }

  // Anti-flap: only a connection that stayed up for a while resets the retry counter.
  const stable = state.status === 'open' && ctx.now - state.openedAt >= ctx.stableAfterMs
  const attempt = stable ? 1 : state.attempt + 1
  if (attempt > ctx.maxRetries) {
    const message = `gave up after ${ctx.maxRetries} retries (${describe(close)})`
    return to(
      state,
      { status: 'closed', generation: state.generation, lastClose: close },
      [...before, { type: 'rejectPending', code: 'closed', message }, { type: 'terminate' }],
      { ...reason, message },
    )
  }
  const hint = parseReconnectHint(close.code, close.reason)
  const limited = isLimitClose(close.code) && ctx.limitDelayMs !== undefined
  const delayMs = limited ? ctx.limitDelayMs! : hint === undefined ? ctx.delay(attempt) : ctx.delay(attempt, hint)
  return to(
    state,
    { status: 'reconnecting', generation: state.generation, attempt, dueAt: ctx.now + delayMs, lastClose: close },
    [...before, { type: 'scheduleRetry', delayMs }],
    // A limit is not lifted by retrying soon: the app is told why the next try is far off.
    limited ? { ...reason, message: `${close.reason || 'a server limit'} (a limit: retrying after the longest delay, ${delayMs} ms)` } : reason,
  )
}

function unauthorized(state: ConnectionState, close: CloseInfo, before: Effect[]): TransitionResult {
  return to(
    state,
    { status: 'unauthorized', generation: state.generation, lastClose: close },
    [...before, { type: 'rejectPending', code: 'unauthorized', message: `the server refused the credentials (${describe(close)})` }],
    { code: close.code, message: close.reason },
  )
}

function describe(close: CloseInfo): string {
  return close.reason ? `close ${close.code}: ${close.reason}` : `close ${close.code}`
}

/** The public status of a state. */
export function statusOf(state: ConnectionState): ConnectionStatus {
  return state.status
}
