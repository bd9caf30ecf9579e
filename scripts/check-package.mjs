#!/usr/bin/env node
// Packs the package as npm would publish it, then lints the tarball with publint (strict) and
// @arethetypeswrong/cli. Fails on any publint warning and on any attw problem in the
// resolution modes a Node >= 20 package supports (node16 CJS and ESM, bundler); node10
// predates `exports` and cannot resolve subpaths at all. It packs the dist/ that `npm test` has
// just built (--ignore-scripts: prepack would build it a second time).
import { execFileSync, spawnSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const dir = mkdtempSync(join(tmpdir(), 'agentwire-pack-'))
const run = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 64 << 20 })
let failed = false
try {
  const [packed] = JSON.parse(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir]))
  const tarball = join(dir, packed.filename)
  console.log(`packed ${packed.filename}: ${packed.entryCount} files, ${(packed.size / 1024).toFixed(1)} KiB`)
  process.stdout.write(run('npx', ['--no-install', 'publint', 'run', tarball, '--strict']))

  // attw's report goes to a file: written to a pipe it is cut off when attw exits before the
  // pipe drained (at 64 KiB under `| wc -c`, now and then here; the report is ~20 KiB per entry).
  const reportFile = join(dir, 'attw.json')
  const out = openSync(reportFile, 'w')
  try {
    spawnSync('npx', ['--no-install', 'attw', tarball, '--format', 'json', '--exclude-entrypoints', './package.json'], { stdio: ['ignore', out, 'inherit'] })
  } finally {
    closeSync(out)
  }
  const report = JSON.parse(readFileSync(reportFile, 'utf8'))
  const entrypoints = Object.keys(report.analysis.entrypoints)
  const problems = report.analysis.problems.filter((p) => (p.resolutionKind ?? p.resolutionOption) !== 'node10')
  if (problems.length > 0) {
    failed = true
    console.error('attw found problems:')
    for (const p of problems) console.error(`  ${p.kind} ${p.entrypoint ?? p.fileName ?? ''} (${p.resolutionKind ?? p.resolutionOption ?? ''})`)
  } else {
    console.log(`attw: ${entrypoints.length} entry points (${entrypoints.join(', ')}) resolve with types under node16 (CJS, ESM) and bundler`)
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
process.exit(failed ? 1 : 0)
