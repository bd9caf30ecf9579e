// Writes src/protocol/generated/specs.ts from the protocol's zod schemas (see scripts/spec-text.ts).
// `npm run gen` after changing a schema; test/protocol/specs.test.ts fails while the file is stale.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { build } from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'agentwire-gen-'))
try {
  const out = join(dir, 'gen.mjs')
  // zod stays a bare import, resolved from the repository's node_modules.
  await build({ entryPoints: [join(root, 'scripts/spec-text.ts')], bundle: true, format: 'esm', platform: 'node', outfile: out, logLevel: 'error', nodePaths: [join(root, 'node_modules')] })
  const { generateSpecs } = await import(pathToFileURL(out).href)
  writeFileSync(join(root, 'src/protocol/generated/specs.ts'), generateSpecs())
  console.log('wrote src/protocol/generated/specs.ts')
} finally {
  rmSync(dir, { recursive: true, force: true })
}
