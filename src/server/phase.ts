import type { Principal } from './options'

/** Where a connection is in its life; what it may do depends only on this. */
export type Phase =
  | { readonly name: 'awaiting_hello' }
  | { readonly name: 'authenticating' }
  | { readonly name: 'open'; readonly principal: Principal; readonly expiresAt: number | undefined }
  | { readonly name: 'closed' }

/**
 * A connection's getters, on a shared prototype: V8 keeps an object literal with accessors in
 * dictionary mode (~450 bytes), and accessors defined per object give each its own hidden class.
 */
export class PhaseView {
  constructor(private readonly phase: () => Phase) {}
  get principal(): Principal | undefined {
    const phase = this.phase()
    return phase.name === 'open' ? phase.principal : undefined
  }
  get pending(): boolean {
    const name = this.phase().name
    return name === 'awaiting_hello' || name === 'authenticating'
  }
}
