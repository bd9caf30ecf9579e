#!/usr/bin/env node
// `npm run demo`: builds only what `agentwire demo` runs, straight from src/ with esbuild (the
// bin and the dashboard's browser build, no type declarations: about a second instead of the
// ~50 s of the full `npm run build`), then runs it in this process, so Ctrl-C reaches the demo
// itself and its exit code is the script's. Arguments pass through:
// `npm run demo -- --port 0 --redis redis://127.0.0.1:6379`.
//
// Output goes to node_modules/.cache/agentwire-demo/, never to dist/: a half-built dist/ (no
// types) must not be what `npm pack` finds. The bin finds the browser build next to itself.
import { build } from 'esbuild'
import { mkdirSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = fileURLToPath(new URL('../', import.meta.url))
const out = `${root}node_modules/.cache/agentwire-demo`
const src = (path) => `${root}src/${path}`

/** The package's own specifiers ('agentwire', 'agentwire/server', …) from src/, bundled in. */
const fromSource = {
  name: 'agentwire-from-source',
  setup(b) {
    b.onResolve({ filter: /^agentwire(\/[\w.-]+)?$/ }, ({ path }) => ({ path: src(path === 'agentwire' ? 'index.ts' : `${path.slice('agentwire/'.length)}/index.ts`) }))
  },
}

process.stderr.write('agentwire demo: building the demo from src/ …\n')
const started = Date.now()
mkdirSync(`${out}/browser`, { recursive: true })
try {
  await Promise.all([
    // The bin as tsup builds it, with the package's own entry points bundled from src/.
    build({
      entryPoints: [src('cli/index.ts')],
      outfile: `${out}/cli.mjs`,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      plugins: [fromSource],
      // Peers and dependencies stay imports, resolved from node_modules as for the real bin.
      packages: 'external',
      logLevel: 'error',
    }),
    // The browser build of the core that the dashboard page loads (tsup's third config).
    build({
      entryPoints: [src('index.ts')],
      outfile: `${out}/browser/agentwire.js`,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2020',
      minify: true,
      plugins: [fromSource],
      logLevel: 'error',
    }),
  ])
} catch {
  // esbuild has printed the errors (logLevel 'error').
  process.stderr.write('agentwire demo: the build failed (see above)\n')
  process.exit(1)
}
if (process.env.AGENTWIRE_DEMO_TIMING) process.stderr.write(`agentwire demo: built in ${Date.now() - started} ms\n`)

process.argv = [process.argv[0], `${out}/cli.mjs`, 'demo', ...process.argv.slice(2)]
await import(pathToFileURL(`${out}/cli.mjs`).href)
