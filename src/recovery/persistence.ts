import { AgentwireError, ErrorCode, initialState } from 'agentwire/protocol'
import type { ClientCore } from '../client/core'
import { messageOf } from '../client/errors'
import type { Persistence } from '../client/recovery-plugin'
import type { SubscriptionRegistry } from '../client/subscription'
import { createRecovery, defaultStorageKey, type SavedChannel } from './storage'

/**
 * Recovery across a reload (C7), as the client uses it: the last page's channels into the
 * store and positions at creation, each followed channel's position with its state on hide
 * (never per event), and the storage key held while the client lives.
 */
/** Without `options.storage`, nothing to persist: undefined. */
export function createPersistence(core: ClientCore, registry: SubscriptionRegistry): Persistence | undefined {
  const { options, store, positions, report, debug } = core
  if (!options.storage) return undefined
  const recovery = createRecovery({
    storage: options.storage,
    key: options.storageKey ?? defaultStorageKey(options.url, options.instance ?? 'default'),
    user: options.user,
    maxLength: positiveOr(options.maxStorageLength, 1_048_576),
  })
  /** Another live client held the storage key at a save: reported once; this one saves nothing while it does. */
  let keyConflictReported = false

  return {
    restore() {
      for (const saved of recovery.load()) {
        if (saved.state) store.replace(saved.channel, saved.state, options.events?.read(saved.reduced))
        positions.reset(saved.channel, saved.epoch, saved.seq)
      }
    },
    save() {
      if (!recovery.claim()) {
        if (keyConflictReported) return
        keyConflictReported = true
        report(
          new AgentwireError(
            ErrorCode.Conflict,
            `another live client on this page keeps its recovery data under "${recovery.key}"; give each client its own \`instance\` (or \`storageKey\`). This one saves nothing while the other holds it.`,
            { retryable: false },
          ),
        )
        return
      }
      const channels: SavedChannel[] = []
      for (const position of positions.all()) {
        if (!registry.covers(position.channel)) continue
        const reduced = store.reduced(position.channel)
        // A channel of the application's events only has reducer states and an empty built-in one.
        const state = store.channelState(position.channel) ?? (reduced ? initialState() : undefined)
        // A position without the state built up to it would resume into an empty store: both or
        // neither. A pattern's position (the channels born) has no state of its own.
        if (state !== undefined || position.channel.endsWith('*')) channels.push({ ...position, state, ...(reduced ? { reduced } : {}) })
      }
      const outcome = recovery.save(channels)
      if (outcome.saved) return debug('recovery data saved', { channels: channels.length, length: outcome.length })
      if (outcome.reason === 'too large') return debug('recovery data not saved: larger than maxStorageLength', { length: outcome.length })
      report(new AgentwireError(ErrorCode.Internal, `recovery data could not be saved: ${messageOf(outcome.error)}`, { cause: outcome.error, retryable: false }))
    },
    release() {
      recovery.release()
      keyConflictReported = false
    },
  }
}

/** A usable positive number, or the default. */
function positiveOr(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback
}
