import { defineConfig } from 'vitest/config'
import base from './vitest.config'

/**
 * The chaos catalogue (RELIABILITY.md): end-to-end fault, load and fuzz runs over the real
 * gateway, Redis and client. Run with `npm run test:chaos` (quick durations) or
 * `npm run test:chaos -- --long` (release durations). Files are named `*.chaos.ts`, so the
 * default `vitest run` never picks them up.
 *
 * One file at a time: each run loads the 2 cores on its own, and its figures are only
 * meaningful without another run beside it. `--expose-gc` lets the leak checks force a GC.
 */
const long = process.env.AGENTWIRE_CHAOS === 'long'

// Spread, not mergeConfig: mergeConfig concatenates `include` with the unit suite's.
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/chaos/**/*.chaos.ts'],
    fileParallelism: false,
    execArgv: ['--expose-gc'],
    // Long mode: 20 min, as the longest case without a timeout of its own (the fuzz run against
    // a live gateway, deadline 15 min) may take that; a case that runs longer (L6's 30 min soak)
    // passes timeoutFor(its duration) from support/results.ts as its own timeout.
    testTimeout: long ? 1_200_000 : 300_000,
    hookTimeout: 60_000,
  },
})
