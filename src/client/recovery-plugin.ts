import type { AgentwireError } from 'agentwire/protocol'
import type { ClientCore } from './core'
import type { CommandFrame, PendingRequest } from './request'
import type { SubscriptionRegistry } from './subscription'
import type { RestoredCommand, StorageLike } from './types'

/**
 * What `recovery()` from `agentwire/recovery` hands the client: the code that keeps channels,
 * positions and steering commands across a reload. The client holds only this shape, so a
 * bundle without recovery carries none of that code.
 */
export interface RecoveryParts {
  readonly kind: 'agentwire.recovery'
  /** Restores and saves channels and positions; undefined without `options.storage`. */
  persistence(core: ClientCore, registry: SubscriptionRegistry): Persistence | undefined
  /** Keeps each cancel and feedback in `storage` until answered. */
  steering(core: ClientCore, storage: StorageLike, key: string, settings?: { ttlMs?: number; maxCommands?: number; maxLength?: number }): Steering
  /** `agentwire:<url without query>#<instance>`. */
  defaultKey(url: string, instance: string): string
}

export interface Persistence {
  restore(): void
  save(): void
  release(): void
}

export interface Steering {
  /** A steering command entered the outbox: stored until it settles. */
  keep(request: PendingRequest): void
  /** The stored commands of the last page, back into the outbox through `add`. */
  restore(add: (frame: CommandFrame) => Promise<unknown>): void
  /** Why a restored command must not go out now (too old for the client or the gateway), or undefined. */
  expired(frame: CommandFrame, gatewayTtlMs: number | undefined): AgentwireError | undefined
  restored(): RestoredCommand[]
}
