#!/usr/bin/env node
// What one idle gateway connection holds (welcomed, one channel), by what V8 calls each object:
// a heap snapshot before and after N connections (opened from a child process, so the clients'
// objects stay out of it), the difference per connection by node type and constructor or
// function name, biggest first. Run after `npm run build` (it loads dist through
// `agentwire/server`); `--raw` profiles the raw `ws` server of the memory benchmark instead.
// --alloc: also what the connections allocated while they came, collected or not (V8's sampling
// heap profiler), per connection and by function: the garbage a connection burst leaves, which
// sets how much young-generation and old-space memory the process keeps resident after it.
// --idle=<ms>: the physical heap by space again after that long idle (V8's memory reducer
// shrinks the young generation of an idle process after some seconds).
// node --expose-gc bench/profile-memory.mjs [--n=1000] [--top=40] [--raw] [--auth] [--chain=<type name>] [--alloc] [--idle=15000]
import { Session } from 'node:inspector/promises'
import { readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:http'
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8'
import { WebSocketServer } from 'ws'
import { settledMemory, spawnCase } from './lib.mjs'

const arg = (name, fallback) => process.argv.slice(2).find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback
const n = Math.min(5000, Number(arg('n', '1000')))
const top = Number(arg('top', '40'))
const raw = process.argv.includes('--raw')
// With an authenticate hook (answering anonymous): the connection then keeps its handshake.
const auth = process.argv.includes('--auth')
const chainOf = arg('chain', undefined)
const alloc = process.argv.includes('--alloc')
const idleMs = Number(arg('idle', '0'))
if (!globalThis.gc) throw new Error('run with node --expose-gc')

let port
let close
let subscriptions = () => n
if (raw) {
  // The same server as bench/cases/fanout-server.mjs in raw mode.
  const http = createServer()
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false })
  wss.on('connection', (ws) => ws.once('message', () => ws.send(JSON.stringify({ type: 'welcome', v: 1, session: 's', heartbeatMs: 0 }))))
  await new Promise((r) => http.listen(0, '127.0.0.1', r))
  port = http.address().port
  close = async () => {
    for (const ws of wss.clients) ws.terminate()
    await new Promise((r) => http.close(r))
  }
} else {
  const { createGateway, memoryBroker } = await import('agentwire/server')
  const limits = { maxConnectionsPerPrincipal: 1e9, maxPendingHandshakes: 1e9, maxBufferedBytes: 64 << 20, maxQueuedFrames: 1e9 }
  const authenticate = auth ? () => ({ id: 'anonymous', anonymous: true }) : undefined
  const gateway = createGateway({ port: 0, host: '127.0.0.1', broker: memoryBroker(), limits, heartbeat: { intervalMs: 600_000 }, authenticate })
  await gateway.ready
  port = gateway.port
  subscriptions = () => gateway.stats().subscriptions.total
  close = () => gateway.close({ drainMs: 0 })
}

/** A heap snapshot written to a file: both are taken before either is read, so the analysis is in neither. */
function snapshot(name) {
  const file = join(tmpdir(), `agentwire-mem-${process.pid}-${name}.heapsnapshot`)
  globalThis.gc()
  globalThis.gc()
  writeHeapSnapshot(file)
  return file
}

/**
 * Self size and count per "type name" in a heap snapshot; with `known` (the ids of an earlier
 * snapshot), also the objects new since then by what holds them ("type name <- holder.edge").
 */
function census(file, known) {
  const snap = JSON.parse(readFileSync(file, 'utf8'))
  rmSync(file)
  const { node_fields: fields, node_types: nodeTypes, edge_fields: edgeFields, edge_types: edgeTypes } = snap.snapshot.meta
  const types = nodeTypes[0]
  const [T, N, I, S, E] = ['type', 'name', 'id', 'self_size', 'edge_count'].map((f) => fields.indexOf(f))
  const [ET, EN, ETO] = ['type', 'name_or_index', 'to_node'].map((f) => edgeFields.indexOf(f))
  const { nodes, edges, strings } = snap
  const label = (i) => {
    const type = types[nodes[i + T]]
    let name = strings[nodes[i + N]]
    // Strings and numbers are named by their content: one bucket each.
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number') name = ''
    if (name.length > 50) name = `${name.slice(0, 47)}...`
    return `${type} ${name}`
  }
  const byLabel = new Map()
  const ids = new Set()
  const holder = new Map()
  for (let i = 0, e = 0; i < nodes.length; i += fields.length) {
    ids.add(nodes[i + I])
    const key = label(i)
    const entry = byLabel.get(key) ?? { count: 0, bytes: 0 }
    entry.count++
    entry.bytes += nodes[i + S]
    byLabel.set(key, entry)
    for (let k = 0; k < nodes[i + E]; k++, e += edgeFields.length) {
      const kind = edgeTypes[0][edges[e + ET]]
      const to = edges[e + ETO]
      if (kind === 'weak' || holder.has(to)) continue
      const edgeName = kind === 'element' || kind === 'hidden' ? `[${edges[e + EN]}]` : strings[edges[e + EN]]
      holder.set(to, { from: i, edge: edgeName })
    }
  }
  const fresh = new Map()
  if (known) {
    for (let i = 0; i < nodes.length; i += fields.length) {
      if (known.has(nodes[i + I])) continue
      const h = holder.get(i)
      const key = `${label(i)}  <-  ${h ? `${label(h.from)}.${h.edge}` : '?'}`
      const entry = fresh.get(key) ?? { count: 0, bytes: 0 }
      entry.count++
      entry.bytes += nodes[i + S]
      fresh.set(key, entry)
    }
  }
  // The biggest new objects, with the chain of what holds them.
  const biggest = []
  if (known) {
    for (let i = 0; i < nodes.length; i += fields.length) if (!known.has(nodes[i + I]) && nodes[i + S] >= 16_384) biggest.push(i)
    biggest.sort((a, b) => nodes[b + S] - nodes[a + S])
    biggest.splice(12)
    // --chain=<text>: a few new objects whose "type name" contains it, with their holders.
    let found = 0
    for (let i = 0; i < nodes.length && chainOf && found < 3; i += fields.length) {
      if (!known.has(nodes[i + I]) && label(i).includes(chainOf) && ++found) biggest.push(i)
    }
  }
  const chains = biggest.map((i) => {
    const path = [`${label(i)} (${nodes[i + S]} B)`]
    for (let at = i, depth = 0; depth < 6; depth++) {
      const h = holder.get(at)
      if (!h) break
      path.push(`${label(h.from)}.${h.edge}`)
      at = h.from
    }
    return path.join('  <-  ')
  })
  return { byLabel, ids, fresh, chains }
}

/** Self bytes a sampling heap profile saw allocated, in total and by function, biggest first. */
function allocations(profile) {
  const by = new Map()
  let total = 0
  const walk = (node) => {
    const f = node.callFrame
    const where = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`
    total += node.selfSize
    by.set(where, (by.get(where) ?? 0) + node.selfSize)
    for (const child of node.children) walk(child)
  }
  walk(profile.head)
  return { total, rows: [...by].sort((a, b) => b[1] - a[1]) }
}

/** After GC: heap used and RSS, and what each V8 space holds in physical memory (RSS beyond the heap used). */
const memory = async () => ({
  ...(await settledMemory()),
  spaces: Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name.replace(/_space$/, ''), s.physical_space_size])),
})
const mem0 = await memory()
/** What each V8 space gained in physical memory since `mem0`, per connection. */
const bySpace = (m) =>
  Object.keys(m.spaces)
    .map((k) => [k, (m.spaces[k] - (mem0.spaces[k] ?? 0)) / n / 1024])
    .filter(([, kb]) => Math.abs(kb) >= 0.05)
    .map(([k, kb]) => `${k} ${kb.toFixed(2)} KB`)
    .join(', ')
const beforeFile = snapshot('before')
const session = alloc ? new Session() : undefined
if (session) {
  session.connect()
  await session.post('HeapProfiler.enable')
  await session.post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
}
const clients = spawnCase('cases/fanout-clients.mjs', ['raw', String(port), String(n)])
try {
  await clients.next('ready', 120_000)
  for (let i = 0; i < 100 && subscriptions() < n; i++) await new Promise((r) => setTimeout(r, 50))
  const allocated = session ? allocations((await session.post('HeapProfiler.stopSampling')).profile) : undefined
  const memN = await memory()
  // Before the second snapshot, whose writing and reading would take more memory than this measures.
  const idle = idleMs > 0 ? await new Promise((r) => setTimeout(r, idleMs)).then(memory) : undefined
  const afterFile = snapshot('after')
  const before = census(beforeFile)
  const after = census(afterFile, before.ids)
  const rows = []
  for (const [key, a] of after.byLabel) {
    const b = before.byLabel.get(key) ?? { count: 0, bytes: 0 }
    const bytes = (a.bytes - b.bytes) / n
    const count = (a.count - b.count) / n
    if (Math.abs(bytes) >= 4 || Math.abs(count) >= 0.5) rows.push({ key, bytes, count })
  }
  rows.sort((x, y) => y.bytes - x.bytes)
  const total = rows.reduce((s, r) => s + r.bytes, 0)
  console.log(`${raw ? 'raw ws server' : `gateway${auth ? ' with authenticate' : ''}`}, ${n} idle connections${raw ? '' : ' (welcomed, one channel)'}`)
  // RSS includes what writing the first snapshot took: the benchmark's figure is the one to quote.
  console.log(`heapUsed ${((memN.heap - mem0.heap) / n / 1024).toFixed(2)} KB, rss ${((memN.rss - mem0.rss) / n / 1024).toFixed(1)} KB, external ${((memN.external - mem0.external) / n / 1024).toFixed(2)} KB per connection`)
  console.log(`physical heap by space: ${bySpace(memN)} per connection`)
  if (allocated) {
    console.log(`allocated while connecting (sampled, collected objects included): ${(allocated.total / n / 1024).toFixed(1)} KB per connection; by function:`)
    for (const [where, bytes] of allocated.rows.slice(0, top)) console.log(`${(bytes / n).toFixed(0).padStart(7)} B  ${where}`)
  }
  if (idle) {
    console.log(`after ${idleMs} ms idle: heapUsed ${((idle.heap - mem0.heap) / n / 1024).toFixed(2)} KB, rss ${((idle.rss - mem0.rss) / n / 1024).toFixed(1)} KB per connection; physical heap by space: ${bySpace(idle)}`)
  }
  console.log(`snapshot: ${total.toFixed(0)} B per connection in the rows below (self sizes, objects per connection)`)
  for (const r of rows.slice(0, top)) console.log(`${r.bytes.toFixed(0).padStart(7)} B  ${r.count.toFixed(2).padStart(6)}  ${r.key}`)
  // The same objects by holder: what keeps them (the first strong reference in the snapshot);
  // rows of less than one object per connection are shared structures that grow with N (tables).
  const held = [...after.fresh].map(([key, e]) => ({ key, bytes: e.bytes / n, count: e.count / n })).filter((r) => r.count >= 0.5 || r.bytes >= 64)
  held.sort((x, y) => y.bytes - x.bytes)
  console.log('\nnew objects per connection by holder (type name <- holder.edge):')
  for (const r of held.slice(0, top)) console.log(`${r.bytes.toFixed(0).padStart(7)} B  ${r.count.toFixed(2).padStart(6)}  ${r.key}`)
  console.log('\nbiggest new objects (tables that grow with N) and --chain matches, with what holds them:')
  for (const chain of after.chains) console.log(`  ${chain}`)
} finally {
  await clients.stop()
  await close()
}
