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
// Spread, not mergeConfig: mergeConfig concatenates `include` with the unit suite's.
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/chaos/**/*.chaos.ts'],
    fileParallelism: false,
    execArgv: ['--expose-gc'],
    testTimeout: 300_000,
    hookTimeout: 60_000,
  },
})
