import type { Codec } from '../codec'

/** One codec per backend: the native protocol and the five seed backends. */
export const dialects: Record<string, Codec> = {}
