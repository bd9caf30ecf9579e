import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../', import.meta.url))

it('npm run examples:build builds both dashboards and type-checks every example', async () => {
  const { stdout } = await promisify(execFile)('npm', ['run', '--silent', 'examples:build'], { cwd: root, maxBuffer: 16 * 1024 * 1024, timeout: 540_000 })
  expect(stdout).toMatch(/built in/)
  for (const app of ['react-dashboard', 'vue-dashboard']) expect(existsSync(`${root}examples/${app}/dist/index.html`)).toBe(true)
}, 600_000)
