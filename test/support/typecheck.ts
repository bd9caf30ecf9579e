import { execFile } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

// A path, not `new URL`: happy-dom replaces URL in some test environments.
const root = `${resolve(dirname(fileURLToPath(import.meta.url)), '../..')}/`

/**
 * Type-checks one file in a tsc program of its own, under test/artifacts/typecheck/{name}:
 * a fixture that augments `Register` would retype every other file of a shared program.
 * Resolves with tsc's exit code and output. Slow on a loaded machine (tens of seconds).
 */
export function typecheckFile(name: string, file: string, source: string): Promise<{ code: number; output: string }> {
  const dir = `${root}test/artifacts/typecheck/${name}`
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  writeFileSync(`${dir}/tsconfig.json`, JSON.stringify({ extends: '../../../../tsconfig.json', include: [file], exclude: [] }))
  writeFileSync(`${dir}/${file}`, source)
  return new Promise((done) => {
    execFile(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${dir}/tsconfig.json`], { timeout: 240_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: stdout + stderr })
    })
  })
}
