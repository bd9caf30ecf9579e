#!/usr/bin/env node
// What a new user does, checked: pack the package, `npm install <tarball> zod` (nothing else)
// into an empty folder, then
//   1. import every entry point from ESM and from CommonJS. The core, protocol, node and server
//      entries must load as installed; an entry that needs an optional peer (react, vue, redis,
//      socket.io-client, mock-socket) must fail only for that peer, and load once the peer is
//      there (linked from this repository's node_modules, so no download);
//   2. bundle the root entry for a browser and find nothing of ws in it;
//   2b. an event, a reducer and a command of the app's own (defineEvents, defineCommands):
//      type-checked against the shipped declarations with the README's Register augmentation
//      (a wrong payload must be an error), then run against a gateway on port 0;
//   3. run the bin: `npx agentwire demo --port 0 --no-view`, fetch the dashboard and its script,
//      read events with `npx agentwire watch <url> --json`, stop the demo with SIGINT (exit 0,
//      the watcher sees 1012) and then the watcher (exit 0). The signal goes to the bin's own
//      process, as `kill -INT` would: npm exec itself dies of a SIGINT to its process group
//      without waiting for its child, so npx's exit status after a Ctrl-C is npm's, not ours.
// Needs dist/ (npm test builds it; `npm run build` otherwise). Every step has a deadline.
// AGENTWIRE_KEEP_INSTALLED=1 keeps the temporary folder for a look after a failure.
import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../', import.meta.url))
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const dir = mkdtempSync(join(tmpdir(), 'agentwire-installed-'))
const app = join(dir, 'app')
const groups = new Set()
let failures = 0

const step = (text) => console.log(`check-installed: ${text}`)
const fail = (text) => {
  failures++
  console.error(`check-installed: FAIL ${text}`)
}

/** Runs a command to its end, with a deadline; resolves { code, stdout, stderr }. */
function run(cmd, args, { cwd = app, timeoutMs = 60_000 } = {}) {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 << 20, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.killed ? `killed after ${timeoutMs} ms` : error.code) : 0, stdout, stderr })
    })
  })
}

/** The process `npx` runs for the bin: the deepest descendant (npm exec → sh -c → node), from /proc. */
function binProcess(pid) {
  const children = new Map()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)])
    } catch {
      /* gone meanwhile */
    }
  }
  let leaf = pid
  while (children.get(leaf)?.length) leaf = children.get(leaf)[0]
  return leaf
}

/**
 * Starts a long-running `npx agentwire …` in a process group of its own (cleaned up as a group).
 * Lines of stdout are kept and can be waited on.
 */
function start(args) {
  const child = spawn('npx', ['--no-install', 'agentwire', ...args], {
    cwd: app,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '' },
  })
  groups.add(child.pid)
  const lines = []
  let stderr = ''
  let partial = ''
  const waiters = []
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    const parts = (partial + chunk).split('\n')
    partial = parts.pop()
    for (const line of parts) {
      lines.push(line)
      for (const w of [...waiters]) if (w.match(line)) waiters.splice(waiters.indexOf(w), 1), w.resolve(line)
    }
  })
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk))
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => (groups.delete(child.pid), resolve(code ?? signal))))
  const output = () => `stdout:\n${lines.slice(-20).join('\n')}\nstderr:\n${stderr.slice(-2000)}`
  return {
    lines,
    output,
    interrupt: () => process.kill(binProcess(child.pid), 'SIGINT'),
    waitForLine(match, timeoutMs, what) {
      const seen = lines.find(match)
      if (seen !== undefined) return Promise.resolve(seen)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`agentwire ${args[0]}: no ${what} within ${timeoutMs} ms\n${output()}`)), timeoutMs)
        waiters.push({ match, resolve: (line) => (clearTimeout(timer), resolve(line)) })
      })
    },
    exit(timeoutMs) {
      return Promise.race([exited, new Promise((resolve) => setTimeout(resolve, timeoutMs, `still running after ${timeoutMs} ms`).unref())])
    },
  }
}

/** Imports each entry in a fresh process of the given kind; resolves { entry: { ok, keys } | { ok: false, code, message } }. */
async function importAll(entries, kind) {
  const body = `
const entries = ${JSON.stringify(entries)}
const report = {}
for (const entry of entries) {
  try {
    const m = ${kind === 'esm' ? 'await import(entry)' : 'require(entry)'}
    report[entry] = { ok: true, keys: Object.keys(m).filter((k) => k !== 'default' && k !== '__esModule').sort() }
  } catch (error) {
    report[entry] = { ok: false, code: error.code, message: String(error.message).split('\\n')[0] }
  }
}
console.log(JSON.stringify(report))
`
  const file = join(app, kind === 'esm' ? 'imports.mjs' : 'imports.cjs')
  writeFileSync(file, kind === 'esm' ? body : `;(async () => {${body}})()`)
  const result = await run(process.execPath, [file], { timeoutMs: 30_000 })
  if (result.code !== 0) throw new Error(`importing the entries (${kind}) failed: ${result.code}\n${result.stderr}`)
  return JSON.parse(result.stdout)
}

/** The package a failed import is missing, from Node's message: "Cannot find package 'react' imported from …" / "Cannot find module 'react'". */
function missingPackage(failure) {
  if (failure.code !== 'ERR_MODULE_NOT_FOUND' && failure.code !== 'MODULE_NOT_FOUND') return undefined
  const name = /Cannot find (?:package|module) '((?:@[^/']+\/)?[^/']+)/.exec(failure.message)?.[1]
  return name
}

async function main() {
  for (const file of ['dist/cli.js', 'dist/index.js', 'dist/index.d.ts', 'dist/browser/agentwire.js']) {
    if (!existsSync(join(root, file))) throw new Error(`${file} is missing: build first (npm run build; npm test does)`)
  }

  // ── pack (dist/ is built; prepack would build it again) and install with zod only
  const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: root, timeoutMs: 120_000 })
  if (packed.code !== 0) throw new Error(`npm pack failed: ${packed.code}\n${packed.stderr}`)
  const [info] = JSON.parse(packed.stdout)
  const shipped = new Set(info.files.map((f) => f.path))
  for (const file of ['dist/cli.js', 'dist/browser/agentwire.js', 'dist/index.js', 'dist/index.cjs', 'dist/index.d.ts']) {
    if (!shipped.has(file)) fail(`the tarball lacks ${file}`)
  }
  step(`packed ${info.filename}: ${info.entryCount} files`)

  mkdirSync(app)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'agentwire-installed-check', version: '0.0.0', private: true }))
  const zod = `zod@${pkg.devDependencies.zod}`
  const installed = await run('npm', ['install', join(dir, info.filename), zod, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { timeoutMs: 180_000 })
  if (installed.code !== 0) throw new Error(`npm install failed: ${installed.code}\n${installed.stderr}`)
  const tree = readdirSync(join(app, 'node_modules')).filter((name) => !name.startsWith('.')).sort()
  const expected = ['agentwire', 'zod', ...Object.keys(pkg.dependencies ?? {})].sort()
  if (tree.join() !== expected.join()) fail(`installed ${tree.join(', ')}; expected ${expected.join(', ')}`)
  step(`npm install <tarball> ${zod}: node_modules holds ${tree.join(', ')}`)

  // ── every entry point, ESM and CJS
  const entries = Object.keys(pkg.exports)
    .filter((key) => key !== './package.json')
    .map((key) => (key === '.' ? 'agentwire' : `agentwire/${key.slice(2)}`))
  const optionalPeers = new Set(Object.keys(pkg.peerDependenciesMeta ?? {}).filter((name) => pkg.peerDependenciesMeta[name].optional))
  const peersNeeded = new Set()
  const first = { esm: await importAll(entries, 'esm'), cjs: await importAll(entries, 'cjs') }
  for (const kind of ['esm', 'cjs']) {
    for (const entry of entries) {
      const result = first[kind][entry]
      if (result.ok) continue
      const missing = missingPackage(result)
      if (missing && optionalPeers.has(missing)) peersNeeded.add(missing)
      else fail(`${kind} ${entry}: ${result.code ?? ''} ${result.message}`)
    }
  }
  const bare = entries.filter((e) => first.esm[e].ok && first.cjs[e].ok)
  step(`with zod only, ESM and CJS load ${bare.join(', ')}; the rest wait for their optional peer (${[...peersNeeded].join(', ') || 'none'})`)
  for (const core of ['agentwire', 'agentwire/protocol', 'agentwire/node', 'agentwire/server']) {
    if (!bare.includes(core)) fail(`${core} does not load with zod alone`)
  }

  for (const peer of peersNeeded) {
    const from = join(root, 'node_modules', peer)
    if (!existsSync(from)) throw new Error(`optional peer ${peer} is not in ${root}node_modules to link`)
    mkdirSync(join(app, 'node_modules', peer, '..'), { recursive: true })
    symlinkSync(from, join(app, 'node_modules', peer), 'dir')
  }
  const second = peersNeeded.size ? { esm: await importAll(entries, 'esm'), cjs: await importAll(entries, 'cjs') } : first
  for (const entry of entries) {
    for (const kind of ['esm', 'cjs']) {
      const result = second[kind][entry]
      if (!result.ok) fail(`${kind} ${entry} with its peers: ${result.code ?? ''} ${result.message}`)
    }
    const [esm, cjs] = [second.esm[entry], second.cjs[entry]]
    if (esm.ok && cjs.ok && esm.keys.join() !== cjs.keys.join()) fail(`${entry}: ESM and CJS export different names`)
    if (esm.ok && esm.keys.length === 0) fail(`${entry} exports nothing`)
  }
  step(`all ${entries.length} entry points load from ESM and CJS with the same exports`)

  // ── a browser bundle of the root entry: nothing of ws
  const { build } = await import('esbuild')
  const bundle = await build({
    stdin: { contents: "export { createClient } from 'agentwire'", resolveDir: app, loader: 'js' },
    absWorkingDir: app,
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    minify: true,
    metafile: true,
    logLevel: 'silent',
  })
  const inputs = Object.keys(bundle.metafile.inputs)
  const nodeOnly = inputs.filter((input) => /(^|\/)node_modules\/(ws|isomorphic-ws)\//.test(input))
  if (nodeOnly.length > 0) fail(`the browser bundle of 'agentwire' pulls in ${nodeOnly.join(', ')}`)
  step(`a browser bundle of 'agentwire' (${inputs.length} files, ${(bundle.outputFiles[0].contents.length / 1024).toFixed(1)} KB minified) has nothing of ws`)

  // ── the application's own events, reducer and command, as installed: run, then type-checked
  // against the shipped declarations with the Register augmentation the README shows
  const own = `import * as z from 'zod'
import { defineCommands, defineEvents } from 'agentwire/protocol'
import { createGateway } from 'agentwire/server'
import { createNodeClient } from 'agentwire/node'
export const events = defineEvents({ 'deploy.finished': z.object({ service: z.string(), ok: z.boolean() }) })
  .reducer('deploys', { initial: { total: 0 }, reduce: (s, e) => (e.type === 'deploy.finished' ? { total: s.total + 1 } : s) })
export const commands = defineCommands({ pause: z.object({ agent: z.string() }) })
declare module 'agentwire' {
  interface Register { events: typeof events; commands: typeof commands }
}
const gateway = createGateway({ port: 0, events, commands, onCommand: (c, ctx) => (c.type === 'command' ? { paused: c.payload.agent } : ctx.defaultHandler()) })
await gateway.ready
const client = createNodeClient({ url: gateway.url, events, commands })
const services: string[] = []
client.on('deploy.finished', (e) => void services.push(e.payload.service))
await client.subscribe('deploys:prod').ready
await gateway.publish('deploys:prod', { type: 'deploy.finished', payload: { service: 'api', ok: true } })
// @ts-expect-error: the schema wants a boolean
const refused = await gateway.publish('deploys:prod', { type: 'deploy.finished', payload: { service: 'api', ok: 'yes' } }).then(() => 'stored', (e: { code: string }) => e.code)
const reply = await client.command('pause', { agent: 'planner' })
while (services.length < 1) await new Promise((r) => setTimeout(r, 10))
console.log(JSON.stringify({ services, refused, reply, reduced: client.reduced('deploys', 'deploys:prod') }))
client.close()
await gateway.close({ drainMs: 100 })
`
  writeFileSync(join(app, 'own.mts'), own)
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true, outDir: 'out', types: [] }, files: ['own.mts'] }))
  const typed = await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { timeoutMs: 120_000 })
  if (typed.code !== 0) fail(`the own-events example does not type-check against the installed declarations:\n${typed.stdout}${typed.stderr}`)
  const stripped = await run(process.execPath, [join('out', 'own.mjs')], { timeoutMs: 60_000 })
  const result = stripped.code === 0 ? JSON.parse(stripped.stdout.trim().split('\n').at(-1)) : undefined
  const want = JSON.stringify({ services: ['api'], refused: 'bad_request', reply: { paused: 'planner' }, reduced: { total: 1 } })
  if (JSON.stringify(result) !== want) fail(`the own-events example printed ${stripped.stdout}${stripped.stderr} (exit ${stripped.code}); expected ${want}`)
  step(`an event, reducer and command of the app's own: typed by Register against the shipped types, and run: ${want}`)

  // ── the bin
  const demo = start(['demo', '--port', '0', '--no-view'])
  const wsLine = await demo.waitForLine((line) => /websocket\s+ws:\/\//.test(line), 30_000, 'websocket URL')
  const url = /(ws:\/\/\S+)/.exec(wsLine)[1]
  const http = url.replace(/^ws:/, 'http:').replace(/\/ws$/, '/')
  for (const [path, type] of [['', 'text/html'], ['agentwire.js', 'text/javascript']]) {
    const response = await fetch(http + path, { signal: AbortSignal.timeout(10_000) })
    const body = await response.text()
    if (response.status !== 200 || !response.headers.get('content-type')?.startsWith(type) || body.length < 100) fail(`GET /${path}: ${response.status} ${response.headers.get('content-type')} ${body.slice(0, 200)}`)
  }
  step(`npx agentwire demo serves ${http} and its browser build`)

  const watch = start(['watch', url, '--json'])
  const event = await watch.waitForLine((line) => line.includes('"type":'), 30_000, 'event')
  const parsed = JSON.parse(event)
  if (typeof parsed.channel !== 'string' || !Number.isInteger(parsed.seq)) fail(`watch --json printed ${event}`)
  step(`npx agentwire watch --json reads events (first: ${parsed.type} on ${parsed.channel})`)

  demo.interrupt()
  const demoExit = await demo.exit(15_000)
  if (demoExit !== 0) fail(`demo after SIGINT: exit ${demoExit}\n${demo.output()}`)
  await watch.waitForLine((line) => line.includes('"code":1012'), 10_000, '1012 close').catch((error) => fail(error.message))
  watch.interrupt()
  const watchExit = await watch.exit(10_000)
  if (watchExit !== 0) fail(`watch after SIGINT: exit ${watchExit}\n${watch.output()}`)
  step(`SIGINT: the demo drained with 1012 and exited ${demoExit}; watch exited ${watchExit}`)
}

const deadline = setTimeout(() => {
  fail('the whole check took over 5 minutes')
  cleanup()
  process.exit(1)
}, 300_000)

function cleanup() {
  for (const pid of groups) {
    try {
      process.kill(-pid, 'SIGKILL')
    } catch {
      /* gone */
    }
  }
  if (process.env.AGENTWIRE_KEEP_INSTALLED) step(`kept ${dir}`)
  else rmSync(dir, { recursive: true, force: true })
}

try {
  await main()
} catch (error) {
  fail(error instanceof Error ? error.message : String(error))
} finally {
  clearTimeout(deadline)
  cleanup()
}
if (failures > 0) {
  console.error(`check-installed: ${failures} problem(s)`)
  process.exit(1)
}
step('the installed package works')
