import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (p: string) => fileURLToPath(new URL(`./src/${p}`, import.meta.url))

export default defineConfig({
  resolve: {
    // Tests import the public specifiers; these point them at the sources.
    alias: [
      { find: /^agentwire$/, replacement: src('index.ts') },
      { find: /^agentwire\/(protocol|react|vue|node|server|redis|rabbitmq|testing|socket\.io|agui|recovery)$/, replacement: src('$1/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    restoreMocks: true,
  },
})
