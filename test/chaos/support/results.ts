import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/**
 * Where chaos runs leave their measured figures: one JSON file per case in
 * test/artifacts/chaos/ (git-ignored), merged into test/artifacts/chaos-results.json by
 * scripts/test-chaos.mjs, so docs/RELIABILITY.md can cite them. Each figure is also printed.
 */
export const LONG = process.env.AGENTWIRE_CHAOS === 'long'
export const RUN = LONG ? 'long' : 'quick'

/** `quick` in the default run, `long` with `npm run test:chaos -- --long` (AGENTWIRE_CHAOS=long). */
export function scale<T>(quick: T, long: T): T {
  return LONG ? long : quick
}

/**
 * Time a test that runs for `durationMs` may take in all: the run, plus `slackMs` for setup,
 * catch-up waits and checks on a loaded 2-core machine. Pass it as the test's timeout, so a
 * long run's timeout follows its duration instead of the config's default (vitest.chaos.config.ts).
 */
export function timeoutFor(durationMs: number, slackMs = 240_000): number {
  return durationMs + slackMs
}

const dir = fileURLToPath(new URL('../../artifacts/chaos/', import.meta.url))

export function recordFigures(caseId: string, test: string, figures: Record<string, unknown>): void {
  mkdirSync(dir, { recursive: true })
  const entry = { case: caseId, run: RUN, test, at: new Date().toISOString(), node: process.version, figures }
  const file = `${dir}${caseId}${LONG ? '.long' : ''}.json`
  writeFileSync(file, `${JSON.stringify(entry, null, 2)}\n`)
  console.log(`[chaos ${RUN}] ${caseId}: ${JSON.stringify(figures)}`)
}

/** p-th percentile (0..100) of the numbers, nearest-rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

/** Resolves when `predicate()` holds, polling every `everyMs`; rejects after `timeoutMs` with `describe()`. */
export async function until(predicate: () => boolean | Promise<boolean>, describe: () => string, timeoutMs = 30_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await predicate()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/** Forced full GC (needs --expose-gc), then the heap in bytes. */
export async function heapAfterGc(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc
  for (let i = 0; i < 4; i++) {
    gc?.()
    await new Promise((r) => setImmediate(r))
  }
  return process.memoryUsage().heapUsed
}

/** Active handles and requests, by kind, without timers vitest itself keeps. */
export function activeResources(): string[] {
  return process.getActiveResourcesInfo().filter((r) => r !== 'Timeout' && r !== 'Immediate')
}
