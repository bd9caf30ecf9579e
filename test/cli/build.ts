import { build, type Plugin } from 'esbuild'
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/**
 * Builds what the CLI and dashboard tests run, straight from the sources, in a second or two:
 * the `agentwire` bin as tsup builds it (ESM, Node, shebang), and the browser build of the core
 * the dashboard loads. The public specifiers point at src/, so a test never runs a stale dist/
 * and never races another test's `npm run build` (which cleans dist/ first).
 * Output goes to test/artifacts/ (git-ignored), inside the package so `ws` and `redis` resolve
 * from node_modules as they would for the real bin.
 */

export const root = fileURLToPath(new URL('../../', import.meta.url))
export const artifacts = `${root}test/artifacts`

/** The package's own specifiers ('agentwire', 'agentwire/server', …, whatever entries exist) from src/. */
const fromSource: Plugin = {
  name: 'agentwire-from-source',
  setup(b) {
    b.onResolve({ filter: /^agentwire(\/[\w.-]+)?$/ }, ({ path }) => ({
      path: `${root}src/${path === 'agentwire' ? 'index.ts' : `${path.slice('agentwire/'.length)}/index.ts`}`,
    }))
  },
}

/** The bin, at test/artifacts/cli/agentwire.mjs. */
export async function buildCli(): Promise<string> {
  const outfile = `${artifacts}/cli/agentwire.mjs`
  mkdirSync(`${artifacts}/cli`, { recursive: true })
  await build({
    entryPoints: [`${root}src/cli/index.ts`],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    plugins: [fromSource],
    // Dependencies and peers stay imports, resolved from node_modules as for the real bin.
    packages: 'external',
    banner: { js: '#!/usr/bin/env node' },
    logLevel: 'error',
  })
  return outfile
}

/** The browser build of the core, at test/artifacts/browser/agentwire.js. */
export function buildBrowserCore(): Promise<string> {
  return buildBrowserModule('agentwire', "export * from 'agentwire'")
}

/**
 * A browser bundle of `contents` (an ES module importing the package's specifiers), minified
 * as an app would ship it, at test/artifacts/browser/<name>.js.
 */
export async function buildBrowserModule(name: string, contents: string): Promise<string> {
  const outfile = `${artifacts}/browser/${name}.js`
  mkdirSync(`${artifacts}/browser`, { recursive: true })
  await build({
    stdin: { contents, resolveDir: root, loader: 'ts' },
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    plugins: [fromSource],
    logLevel: 'error',
  })
  return outfile
}
