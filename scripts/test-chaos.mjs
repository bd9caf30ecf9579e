#!/usr/bin/env node
/**
 * npm run test:chaos [-- --long] [vitest args]
 *
 * Runs the chaos catalogue (test/chaos/*.chaos.ts, RELIABILITY.md) with vitest.chaos.config.ts:
 * quick durations by default, release durations with --long (or AGENTWIRE_CHAOS=long). Then
 * merges each case's figures from test/artifacts/chaos/*.json into
 * test/artifacts/chaos-results.json, which docs/RELIABILITY.md cites.
 * Needs Redis on 127.0.0.1:6379 (AGENTWIRE_REDIS_URL to change it).
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../', import.meta.url))
const args = process.argv.slice(2)
const long = args.includes('--long') || process.env.AGENTWIRE_CHAOS === 'long'
const rest = args.filter((a) => a !== '--long')
const dir = `${root}test/artifacts/chaos`
const suffix = long ? '.long.json' : '.json'

// Figures from an earlier run of the same kind must not pass for this one's.
mkdirSync(dir, { recursive: true })
for (const f of readdirSync(dir)) if (f.endsWith(suffix) && (long || !f.endsWith('.long.json'))) rmSync(`${dir}/${f}`)

const started = Date.now()
const run = spawnSync('npx', ['vitest', 'run', '-c', 'vitest.chaos.config.ts', ...rest], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, AGENTWIRE_CHAOS: long ? 'long' : 'quick' },
})

const cases = {}
for (const f of readdirSync(dir).sort()) {
  if (!f.endsWith('.json') || f.endsWith('.long.json') !== long) continue
  const entry = JSON.parse(readFileSync(`${dir}/${f}`, 'utf8'))
  cases[entry.case] = entry
}
const out = `${root}test/artifacts/chaos-results.json`
let previous = {}
try {
  previous = JSON.parse(readFileSync(out, 'utf8'))
} catch {
  // First run.
}
// A run narrowed by arguments (-t S2, a file) re-records only its cases: the other cases of the
// same mode keep their figures, each with its own `at`.
const mode = long ? 'long' : 'quick'
const kept = rest.length > 0 ? (previous[mode]?.cases ?? {}) : {}
const results = { ...previous, [mode]: { at: new Date().toISOString(), durationMs: Date.now() - started, passed: run.status === 0, cases: { ...kept, ...cases } } }
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`)
console.log(`chaos ${long ? 'long' : 'quick'} run: ${Object.keys(cases).length} cases recorded in ${out} (${Math.round((Date.now() - started) / 1000)} s)`)
process.exit(run.status ?? 1)
