#!/usr/bin/env node
// Profiles the receive client: starts the receive server case and the client case with
// --cpu-prof, then prints self time by function. Also runs raw vs agentwire a few times and
// prints the ratio per repetition, a quicker loop than `bench/run.mjs --only=receive`.
// node bench/profile-receive.mjs [--mode=agentwire] [--n=500000] [--reps=0] [--dir=/tmp/agentwire-prof] [--top=30] [--client=cases/receive-client.mjs]
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { spawnCase } from './lib.mjs'

const arg = (name, fallback) => process.argv.slice(2).find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback
const mode = arg('mode', 'agentwire')
const n = Number(arg('n', '500000'))
const reps = Number(arg('reps', '0'))
const dir = arg('dir', '/tmp/agentwire-prof')
const top = Number(arg('top', '30'))
// Another client script in place of the case, e.g. the case bundled from another checkout, to compare builds.
const clientScript = arg('client', 'cases/receive-client.mjs')

// Each client process also reports the CPU time it spent between its first and last event
// (the case calls performance.now() exactly there): a rate per CPU second is far less
// sensitive to a loaded machine than the wall-clock rate the case reports.
const cpuHook = `data:text/javascript,${encodeURIComponent(`
  const now = performance.now.bind(performance); const marks = []
  performance.now = () => { const u = process.cpuUsage(); marks.push(u.user + u.system); return now() }
  const send = process.send.bind(process)
  process.send = (m, ...rest) => { if (m && m.type === 'result') m.cpuRate = m.n / ((marks.at(-1) - marks[0]) / 1e6); return send(m, ...rest) }
`)}`

async function receive(m, execArgv = []) {
  const server = spawnCase('cases/receive-server.mjs', ['native', String(n)])
  try {
    const { port } = await server.next('listening')
    const client = spawnCase(m === 'raw' ? 'cases/receive-client.mjs' : clientScript, [m, String(port), String(n)], { execArgv: [`--import=${cpuHook}`, ...execArgv] })
    try {
      return await client.next('result', 180_000)
    } finally {
      // Let --cpu-prof write its file on a normal exit.
      await Promise.race([new Promise((r) => client.child.once('exit', r)), new Promise((r) => setTimeout(r, 5000))])
      await client.stop()
    }
  } finally {
    await server.stop()
  }
}

for (let rep = 0; rep < reps; rep++) {
  const order = rep % 2 ? ['agentwire', 'raw'] : ['raw', 'agentwire']
  const got = {}
  for (const m of order) got[m] = await receive(m)
  const { raw, agentwire } = got
  console.log(
    `rep ${rep + 1}: wall: raw ${Math.round(raw.rate)}/s, agentwire ${Math.round(agentwire.rate)}/s, ratio ${(agentwire.rate / raw.rate).toFixed(2)}; ` +
      `per CPU second: raw ${Math.round(raw.cpuRate)}, agentwire ${Math.round(agentwire.cpuRate)}, ratio ${(agentwire.cpuRate / raw.cpuRate).toFixed(2)}`,
  )
}

if (reps === 0) {
  mkdirSync(dir, { recursive: true })
  const before = new Set(readdirSync(dir))
  const { rate } = await receive(mode, ['--cpu-prof', `--cpu-prof-dir=${dir}`])
  console.log(`${mode}: ${Math.round(rate)}/s`)
  const file = readdirSync(dir).filter((f) => !before.has(f) && f.endsWith('.cpuprofile')).map((f) => join(dir, f)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0]
  if (file) summarise(file)
}

/** Self time by function (name, file:line), from the profile's samples. */
function summarise(file) {
  const profile = JSON.parse(readFileSync(file, 'utf8'))
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const self = new Map()
  const deltas = profile.timeDeltas
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i])
    const { functionName, url, lineNumber } = node.callFrame
    const key = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`
    self.set(key, (self.get(key) ?? 0) + (deltas[i] ?? 0))
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled`)
  for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}`)
}
