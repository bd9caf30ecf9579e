import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Finds the browser build of the core (`dist/browser/agentwire.js`) that the dashboard page
 * loads. The code asking may be the ESM build (`dist/server.js`), the CJS build
 * (`dist/server.cjs`) or the sources under test (`src/server/dashboard/`), so the search starts
 * where this module is and walks up a few directories.
 */

export const BROWSER_BUILD = join('browser', 'agentwire.js')

/** The directory of the running module, in ESM, CJS and under vitest alike; undefined if unknowable. */
function moduleDir(): string | undefined {
  // CJS (and vitest, which also defines it): the plain answer.
  if (typeof __dirname === 'string') return __dirname
  try {
    // ESM. In the CJS build esbuild empties import.meta, so `url` is undefined there and this throws.
    return dirname(fileURLToPath(import.meta.url))
  } catch {
    return undefined
  }
}

/** Where the browser build is, or `undefined` when it has not been built. */
export function findBrowserBuild(start: string | undefined = moduleDir()): string | undefined {
  const candidates: string[] = []
  let dir = start ?? process.cwd()
  for (let up = 0; up < 5; up++) {
    candidates.push(join(dir, BROWSER_BUILD), join(dir, 'dist', BROWSER_BUILD))
    const parent = resolve(dir, '..')
    if (parent === dir) break
    dir = parent
  }
  // Last resort: a server run from the package's own directory.
  candidates.push(join(process.cwd(), 'dist', BROWSER_BUILD))
  return candidates.find((file) => existsSync(file))
}
