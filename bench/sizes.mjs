// Browser bundle sizes: esbuild (bundle, minify, ESM, browser), then gzip and brotli.
// Deterministic, so `npm test` enforces the budgets through test/sizes.test.ts.
import { gzipSync, brotliCompressSync, constants } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))

/** The budgets, in bytes min+gzip; the benchmark reports each as met or not. */
export const BUDGETS = {
  agentwire: 12 * 1024,
  'agentwire/react': 1.5 * 1024,
  'agentwire/vue': 1.5 * 1024,
}

/**
 * What `npm test` enforces: the budget where it is met; where it is not yet (the core), the
 * size it has now, so it can only shrink.
 */
export const CEILINGS = {
  // 32 KB until the store's per-channel entity ownership and the reconnect spread (+1.2 KB);
  // 33 KB until this round (35.3 KB measured): offline steering kept across a reload (+1.0),
  // streamed messages and tool calls (+0.5), the welcome's limits and ping-first heartbeat
  // (+0.7), the client split into files (+0.7, property names no longer minified across
  // them), lenient events from foreign backends (+0.3), a pattern's own position (+0.1).
  // 35.5 KB until the open protocol (36.2 KB measured, +0.9): user reducers per channel in the
  // store, `command` with its checks, any channel name, untyped events with their position.
  // What only the application's definitions use lives on them (`defineEvents`, `defineCommands`),
  // so a bundle without definitions carries none of it.
  // 36.2 KB until recovery across a reload (positions and state in storage, offline steering)
  // moved to its own entry, `agentwire/recovery` (-1.7 KB gzip on createClient).
  // 34.5 KB until createClient validated frames with specs generated from the zod schemas
  // instead of zod/mini itself (28.6 KB measured, -5.9 KB: zod/mini's runtime left the bundle).
  // 28.6 KB until the zod-schema-to-spec reader moved onto the definitions (`events.specOf`),
  // so a bundle without `defineEvents` leaves it out (28.0 KB measured, -0.7 KB).
  // 28.0 KB until the close-code table was derived from CloseCode and isRetryableClose read a
  // list of fatal codes, and the client's backoff skipped the public functions' policy check (27.7 KB measured).
  // 27.7 KB until the error classes and the state writer assigned their fields in the
  // constructor instead of declaring them with class fields (ES2020 needs a define helper for those).
  // 27.6 KB until the client read each close and error code as a constant of its own
  // (CLOSE_NORMAL, ERROR_INTERNAL) instead of through the CloseCode and ErrorCode objects: a
  // bundler inlines a constant but keeps a whole object for one property (27.2 KB measured).
  // Held at 27.2 KB when a store nobody listens to began folding in batches (+0.1 KB): paid for
  // by reading own keys through the one `hasKey` helper instead of spelling
  // `Object.prototype.hasOwnProperty.call` in each module (27,848 bytes measured).
  agentwire: 27.2 * 1024,
  'agentwire/react': BUDGETS['agentwire/react'],
  'agentwire/vue': BUDGETS['agentwire/vue'],
}

// Resolves the public specifiers to the sources, so sizes need no build.
const sources = {
  name: 'agentwire-sources',
  setup(b) {
    b.onResolve({ filter: /^agentwire(\/[a-z.]+)?$/ }, (args) => {
      if (args.pluginData?.external?.includes(args.path)) return { path: args.path, external: true }
      const sub = args.path === 'agentwire' ? 'index.ts' : `${args.path.slice('agentwire/'.length)}/index.ts`
      return { path: `${root}src/${sub}` }
    })
  },
}

/** Each seed dialect by the name it is exported under from `agentwire/protocol`. */
export const DIALECTS = [
  ['routing', 'routing'],
  ['webgui', 'webgui'],
  ['rooms', 'rooms'],
  ['progress', 'createProgressCodec'],
  ['forge', 'forge'],
]

/** What each measured bundle contains: its entry code and what stays outside it. */
export const TARGETS = [
  { name: 'agentwire', contents: "export { createClient } from 'agentwire'", external: [], note: 'createClient with every check; no zod (frames are validated with specs generated from the schemas)' },
  { name: 'agentwire (zod excluded)', contents: "export { createClient } from 'agentwire'", external: ['zod', 'zod/*'], note: 'what agentwire adds to an app that already loads zod/mini' },
  { name: 'agentwire/protocol', contents: "export * from 'agentwire/protocol'", external: [], note: 'schemas, codecs, reduce' },
  { name: 'agentwire/react', contents: "export * from 'agentwire/react'", external: ['agentwire', 'agentwire/protocol', 'react', 'react/jsx-runtime', 'react-dom'], note: 'core excluded' },
  { name: 'agentwire/vue', contents: "export * from 'agentwire/vue'", external: ['agentwire', 'agentwire/protocol', 'vue'], note: 'core excluded' },
  { name: 'agentwire/socket.io', contents: "export * from 'agentwire/socket.io'", external: ['agentwire', 'agentwire/protocol', 'socket.io-client'], note: 'core and socket.io-client excluded' },
  { name: 'agentwire/recovery', contents: "export * from 'agentwire/recovery'", external: ['agentwire', 'agentwire/protocol'], note: 'core excluded: what keeping a reload costs on top of createClient' },
  { name: 'agentwire/agui', contents: "export { agui } from 'agentwire/agui'", external: ['agentwire', 'agentwire/protocol'], note: 'the AG-UI client dialect, core excluded' },
  { name: 'fallback and forge transports', contents: "export { fallbackTransport, forgeTransport } from 'agentwire'", external: ['agentwire/protocol'], note: 'imported only by apps that use them; protocol excluded' },
  { name: 'agentwire/testing', contents: "export * from 'agentwire/testing'", external: ['agentwire', 'agentwire/protocol', 'mock-socket'], note: 'core and mock-socket excluded' },
  ...DIALECTS.map(([name, symbol]) => ({ name: `dialect ${name}`, contents: `export { ${symbol} } from 'agentwire/protocol'`, external: [], dialect: symbol, note: 'alone, with zod/mini' })),
  { name: 'socket.io-client', contents: "export { io } from 'socket.io-client'", external: [], peer: true },
  { name: 'centrifuge', contents: "export { Centrifuge } from 'centrifuge'", external: [], peer: true },
  { name: 'phoenix', contents: "export { Socket } from 'phoenix'", external: [], peer: true },
  { name: 'graphql-ws', contents: "export { createClient } from 'graphql-ws'", external: ['graphql'], peer: true },
  { name: 'partysocket', contents: "export { PartySocket } from 'partysocket'", external: [], peer: true },
]

export async function measure(target, { metafile = false } = {}) {
  const externals = new Set(target.external)
  const result = await build({
    stdin: { contents: target.contents, resolveDir: root, loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    write: false,
    metafile,
    // With the breakdown, a source map says which module each output byte came from. `external`
    // adds no comment to the code, so the measured bytes are the same either way.
    ...(metafile ? { sourcemap: 'external', outfile: 'bundle.js' } : {}),
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
    plugins: [
      {
        name: 'externals',
        setup(b) {
          b.onResolve({ filter: /.*/ }, (args) => {
            for (const e of externals) {
              if (args.path === e || (e.endsWith('/*') && args.path.startsWith(e.slice(0, -1)))) return { path: args.path, external: true }
            }
            return undefined
          })
        },
      },
      sources,
    ],
  })
  const file = result.outputFiles.find((f) => !f.path.endsWith('.map'))
  const code = file.contents
  return {
    name: target.name,
    minified: code.length,
    gzip: gzipSync(code, { level: 9 }).length,
    brotli: brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
    peer: Boolean(target.peer),
    note: target.note ?? '',
    ...(metafile ? { modules: breakdown(result.metafile, gzipByModule(file.text, JSON.parse(result.outputFiles.find((f) => f.path.endsWith('.map')).text))) } : {}),
  }
}

/**
 * The parts of `createClient` a module belongs to, for the sizes report (first match wins):
 * validation (frames checked with the generated specs, JSON limits, errors), store (state,
 * reducers, snapshots merged per channel), steering (start, cancel, feedback, commands, the
 * offline outbox), delivery (subscriptions, positions, dedupe, dispatch), connection (the
 * state machine, reconnect with backoff, heartbeat, the WebSocket transport, the client object).
 */
export const PARTS = [
  ['validation', /^src\/protocol\/(generated\/|spec|checker|validate|native-codec|client-codec|json|snapshot|codec|errors|codes|code-values|event-types)/],
  ['store', /^src\/(client\/(store|entities)|protocol\/(reduce|writer|merge|equal|records))/],
  ['steering', /^src\/client\/(requests|request|run|outbox)\./],
  ['delivery', /^src\/(client\/(wire|subscription|delivery|positions|emitter)|protocol\/channels)\./],
  ['connection', /^src\/client\//],
]

/** Which of {@link PARTS} a module is in. */
export const partOf = (module) => PARTS.find(([, re]) => re.test(module))?.[0] ?? 'other'

/**
 * What each module costs in gzip bytes: the bundle's gzip size minus that of the same bundle
 * with the module's bytes cut out (found through the source map). gzip shares its dictionary
 * across modules, so these marginal costs add up to a little less than the whole; each says
 * what leaving that one module out would save.
 */
export function gzipByModule(code, map) {
  const owner = ownerOfEachByte(code, map)
  // A package's files are one module, as in `breakdown`: cut out together.
  const moduleOf = map.sources.map(moduleName)
  const total = gzipSync(code, { level: 9 }).length
  const out = new Map()
  for (const module of new Set(moduleOf)) {
    const parts = []
    let start = -1
    for (let i = 0; i <= code.length; i++) {
      const keep = i < code.length && moduleOf[owner[i]] !== module
      if (keep && start < 0) start = i
      else if (!keep && start >= 0) (parts.push(code.slice(start, i)), (start = -1))
    }
    const rest = parts.join('')
    if (rest.length < code.length) out.set(module, total - gzipSync(rest, { level: 9 }).length)
  }
  return out
}

/** A module's name in the reports: our sources by path from `src/`, a package by its name. */
function moduleName(path) {
  return /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1] ?? path.replace(/^.*?\bsrc\//, 'src/')
}

/** For each character of `code`, the index of the source it was generated from (-1: none). */
function ownerOfEachByte(code, map) {
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  const lineStart = [0]
  for (let i = 0; i < code.length; i++) if (code[i] === '\n') lineStart.push(i + 1)
  const segments = [] // [offset, source]
  let source = 0
  map.mappings.split(';').forEach((line, l) => {
    let column = 0
    for (const segment of line.split(',')) {
      if (segment === '') continue
      const fields = []
      let value = 0
      let shift = 0
      for (const ch of segment) {
        const digit = B64.indexOf(ch)
        value += (digit & 31) << shift
        if (digit & 32) shift += 5
        else {
          fields.push(value & 1 ? -(value >> 1) : value >> 1)
          value = shift = 0
        }
      }
      column += fields[0]
      if (fields.length > 1) source += fields[1]
      segments.push([lineStart[l] + column, fields.length > 1 ? source : -1])
    }
  })
  const owner = new Int32Array(code.length).fill(-1)
  for (let k = 0; k < segments.length; k++) {
    const [from, s] = segments[k]
    const to = k + 1 < segments.length ? segments[k + 1][0] : code.length
    owner.fill(s, from, to)
  }
  return owner
}

/**
 * Minified bytes per module of a bundle, biggest first, from esbuild's metafile. Modules are
 * our sources by path and packages by name (zod's files folded into `zod`), so the list says
 * where the bytes come from; gzip cannot be split per module, minified bytes can.
 */
export function breakdown(meta, gzip = new Map()) {
  const out = Object.entries(meta.outputs).find(([path]) => !path.endsWith('.map'))[1]
  const by = new Map()
  for (const [path, { bytesInOutput }] of Object.entries(out.inputs)) {
    const key = moduleName(path)
    by.set(key, (by.get(key) ?? 0) + bytesInOutput)
  }
  const total = [...by.values()].reduce((a, b) => a + b, 0)
  return [...by].map(([module, bytes]) => ({ module, part: partOf(module), bytes, share: bytes / total, ...(gzip.has(module) ? { gzip: gzip.get(module) } : {}) })).sort((a, b) => b.bytes - a.bytes)
}

/** The modules' minified and gzip bytes summed by part, biggest first. */
export function byPart(modules) {
  const parts = new Map()
  for (const m of modules) {
    const p = parts.get(m.part) ?? { part: m.part, bytes: 0, gzip: 0, modules: 0 }
    p.bytes += m.bytes
    p.gzip += m.gzip ?? 0
    p.modules++
    parts.set(m.part, p)
  }
  return [...parts.values()].filter((p) => p.bytes > 0).sort((a, b) => b.gzip - a.gzip)
}

/** What a dialect adds to an app that already has `createClient`: both bundled, minus createClient alone. */
export async function dialectCost(symbol, base) {
  const both = await measure({ name: `createClient + ${symbol}`, contents: `export { createClient } from 'agentwire'\nexport { ${symbol} } from 'agentwire/protocol'`, external: [] })
  return { minified: both.minified - base.minified, gzip: both.gzip - base.gzip, brotli: both.brotli - base.brotli }
}

/** Every target; the root one with its module breakdown, each dialect with what it adds to createClient. */
export async function measureAll() {
  const out = []
  for (const t of TARGETS) out.push(await measure(t, { metafile: t.name === 'agentwire' }))
  const base = out.find((r) => r.name === 'agentwire')
  for (const t of TARGETS) if (t.dialect) out.find((r) => r.name === t.name).added = await dialectCost(t.dialect, base)
  return out
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const all = await measureAll()
  for (const r of all) console.log(`${r.name.padEnd(26)} ${String(r.minified).padStart(8)} min  ${String(r.gzip).padStart(7)} gzip  ${String(r.brotli).padStart(7)} br${r.added ? `  (+${r.added.gzip} gzip over createClient)` : ''}`)
  console.log('\nagentwire (createClient) by part: minified bytes, and gzip bytes each part\'s modules cost')
  for (const p of byPart(all[0].modules)) console.log(`  ${String(p.bytes).padStart(7)} min  ${String(p.gzip).padStart(6)} gzip  ${p.part} (${p.modules} modules)`)
  console.log('\nagentwire (createClient) by module: minified bytes, share, gzip bytes it costs')
  for (const m of all[0].modules.slice(0, 25)) console.log(`  ${String(m.bytes).padStart(7)}  ${(m.share * 100).toFixed(1).padStart(5)} %  ${String(m.gzip ?? '').padStart(6)}  ${m.module}`)
}
