import { defineConfig } from 'tsup'

// Every entry imports the others by their public specifier ('agentwire', 'agentwire/protocol'),
// kept external here, so an app that loads several entries runs one copy of the core.
const external = [/^agentwire(\/.*)?$/, 'react', 'react-dom', 'vue', 'ws', 'redis', 'socket.io-client', 'mock-socket', 'amqplib', 'zod', /^zod\//]

export default defineConfig([
  {
    entry: {
      index: 'src/index.ts',
      protocol: 'src/protocol/index.ts',
      react: 'src/react/index.ts',
      vue: 'src/vue/index.ts',
      node: 'src/node/index.ts',
      server: 'src/server/index.ts',
      redis: 'src/redis/index.ts',
      rabbitmq: 'src/rabbitmq/index.ts',
      testing: 'src/testing/index.ts',
      'socket.io': 'src/socket.io/index.ts',
      agui: 'src/agui/index.ts',
      recovery: 'src/recovery/index.ts',
    },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'es2022',
    platform: 'neutral',
    external,
    treeshake: true,
  },
  {
    // The command line: Node only, ESM, with a shebang.
    entry: { cli: 'src/cli/index.ts' },
    format: ['esm'],
    dts: false,
    sourcemap: true,
    clean: false,
    target: 'node20',
    platform: 'node',
    external,
    banner: { js: '#!/usr/bin/env node' },
  },
  {
    // The browser build the gateway's dashboard page loads: core + protocol + zod/mini in one file.
    entry: { 'browser/agentwire': 'src/index.ts' },
    format: ['esm'],
    dts: false,
    clean: false,
    minify: true,
    target: 'es2020',
    platform: 'browser',
    noExternal: [/.*/],
    esbuildOptions(options) {
      options.alias = { 'agentwire/protocol': './src/protocol/index.ts' }
    },
  },
])
