import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

// The example imports the package by its name; these aliases build it from the repository's
// sources. In your own app, `npm install agentwire` and drop the aliases. The components are
// render functions (`h()`), so neither an SFC plugin nor the runtime template compiler is needed.
const src = (p: string) => fileURLToPath(new URL(`../../src/${p}`, import.meta.url))

export default defineConfig({
  base: './',
  build: {
    rollupOptions: {
      // Bundling the sources meets the adapters' 'use client' directives; only RSC bundlers act on them.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning)
      },
    },
  },
  resolve: {
    alias: [
      { find: /^agentwire$/, replacement: src('index.ts') },
      { find: /^agentwire\/(protocol|vue)$/, replacement: src('$1/index.ts') },
    ],
  },
})
