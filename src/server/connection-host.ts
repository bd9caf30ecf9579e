import type { Broker } from './broker'
import type { ServerClock } from './clock'
import type { CommandRunner } from './commands'
import type { Fanout } from './fanout'
import type { AuthOutcome, AuthorizeAction, GatewayLogger, HandshakeInfo, Principal, ResolvedLimits } from './options'
import type { GatewayConnection } from './socket'
import type { DropCause } from './stats'

/** What a connection needs from the gateway around it. */
export interface ConnectionHost {
  readonly limits: ResolvedLimits
  readonly heartbeatMs: number
  readonly heartbeatTimeoutMs: number
  /** How long a command id is remembered; sent in `welcome` so a client knows when a re-sent command could run twice. */
  readonly idempotencyTtlMs?: number
  readonly token: { readonly refreshBeforeMs: number; readonly graceMs: number }
  readonly clock: ServerClock
  readonly broker: Broker
  readonly fanout: Fanout
  readonly commands: CommandRunner
  readonly log: GatewayLogger
  authenticate(token: string | undefined, handshake: HandshakeInfo): Promise<AuthOutcome>
  authorize(principal: Principal, channel: string, action: AuthorizeAction): Promise<boolean>
  /** Counts the principal's connection; false when it has too many. */
  admit(connection: Connection, principal: Principal): boolean
  /** The connection is closed on our side: forget its principal and handshake slot. */
  release(connection: Connection): void
  /** The socket is gone. */
  forget(connection: Connection): void
  drop(cause: DropCause): void
  frameIn(): void
  frameOut(): void
}

export interface Connection extends GatewayConnection {
  readonly principal: Principal | undefined
  readonly pending: boolean
  /** Closes with a code; the gateway stops sending at once. */
  close(code: number, reason: string, cause?: DropCause): void
  /** Drops the connection without a closing handshake (a peer too slow to finish it at shutdown). */
  terminate(): void
  /** The heartbeat sweep: ping when idle, terminate when a ping went unanswered. */
  tick(now: number): void
}
