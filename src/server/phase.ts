import type { Principal } from './options'

/** Where a connection is in its life; what it may do depends only on this. */
export type Phase =
  | { readonly name: 'awaiting_hello' }
  | { readonly name: 'authenticating' }
  | { readonly name: 'open'; readonly principal: Principal; readonly expiresAt: number | undefined }
  | { readonly name: 'closed' }
