#!/usr/bin/env node
// In-process microbenchmark of the client's store: what each received event costs after it
// was decoded. Events/s of `reduce` alone, of `store.apply` flushed every 1, 16 and 256 events
// (a listener reads the snapshot at each flush, as an adapter does), and of `JSON.parse` of
// the same frames for reference, on the receive case's mix (~150-byte agent.status,
// task.progress, step.progress, routing.decision and metrics.snapshot over their channels),
// unread both on their channels and all on one (what folding each event twice costs);
// then agent.status updates in a store that holds 1,000 agents, each on its own channel
// (what an `agent:*` subscription delivers).
//
//   node bench/store-micro.mjs [--rounds=15] [--events=4096] [--passes=5] [--baseline=<git rev | directory>] [--only=reduce,apply]
//
// It bundles the sources with esbuild first, so it measures them as they are, with no
// `npm run build`. With --baseline, the same sources at that revision are bundled too and
// every case runs against both in the same rounds ("before" and "after" columns, and their
// ratio per round), because this machine is shared and absolute rates drift by ±20–30 %.
// Rounds are interleaved, with the order rotated each round, and timed in CPU time.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { build } from 'esbuild'
import { eventFrames, median, here } from './lib.mjs'

const argv = process.argv.slice(2)
const opt = (name) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1]
const ROUNDS = Number(opt('rounds') ?? 15)
const EVENTS = Number(opt('events') ?? 4096)
const PASSES = Number(opt('passes') ?? 5)
const BASELINE = opt('baseline')
/** Runs only the cases whose name contains one of these (comma-separated); JSON.parse always runs. */
const ONLY = opt('only')?.split(',')
const AGENTS = 1000
// `gc()` without restarting node with --expose-gc: the flag set now applies to a new context.
setFlagsFromString('--expose-gc')
const collectGarbage = runInNewContext('gc')

const root = here('..')
const dir = mkdtempSync(join(tmpdir(), 'agentwire-store-micro-'))
try {
  const after = await bundle(root, 'after')
  let before
  if (BASELINE && existsSync(join(BASELINE, 'src'))) {
    // A directory holding another copy of the sources (and its tsconfig.json).
    before = await bundle(BASELINE, 'before')
  } else if (BASELINE) {
    const src = join(dir, 'baseline')
    mkdirSync(src)
    // The baseline's sources and tsconfig (its `paths` map the public specifiers), untouched.
    const tar = execFileSync('git', ['archive', BASELINE, 'src', 'tsconfig.json'], { cwd: root, maxBuffer: 1 << 28 })
    execFileSync('tar', ['-x', '-C', src], { input: tar })
    before = await bundle(src, 'before')
  }
  run(before ? { before, after } : { now: after })
} finally {
  rmSync(dir, { recursive: true, force: true })
}

async function bundle(from, name) {
  const outfile = join(dir, `${name}.mjs`)
  await build({
    stdin: {
      contents: "export * from './src/protocol/index.ts'\nexport { createStore } from './src/client/store.ts'",
      resolveDir: from,
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    outfile,
    nodePaths: [join(root, 'node_modules')],
    logLevel: 'silent',
  })
  return import(pathToFileURL(outfile).href)
}

/**
 * The events, built anew for each build under test: sharing strings and objects between
 * builds measured a 3–5× penalty on whichever build's stores were made second (their
 * records' keys), which would bias the comparison.
 */
function inputs() {
  const { frames } = eventFrames(EVENTS)
  const mixed = frames.map((f) => JSON.parse(f)).map((m) => [m.channel, m.event])
  // Fewer updates per pass: before batching, each one copies the 1,000-key record. A pass
  // touches half the fleet, each agent two or three times with a load no other update has,
  // so every update changes something, in every pass (a repeated value would cost nothing).
  const agentUpdates = []
  for (let i = 0; i < EVENTS / 4; i++) {
    // A stride coprime with 500, so consecutive updates touch different agents.
    const name = `agent-${(i * 7) % (AGENTS / 2)}`
    agentUpdates.push([`agent:${name}`, { type: 'agent.status', payload: { name, status: 'busy', load: i / EVENTS } }])
  }
  return { frames, mixed, agentUpdates }
}

function run(builds) {
  const { frames } = inputs()
  const bytes = frames.reduce((n, f) => n + f.length, 0) / frames.length
  const UPDATES = EVENTS / 4

  let sink = 0
  const cases = {}
  cases['JSON.parse'] = () => () => {
    for (let i = 0; i < frames.length; i++) sink += JSON.parse(frames[i]).seq
  }
  for (const [label, p] of Object.entries(builds)) {
    const { frames, mixed, agentUpdates } = inputs()
    const tag = Object.keys(builds).length > 1 ? ` [${label}]` : ''
    cases[`reduce${tag}`] = () => foldCase(p, mixed, p.initialState())
    for (const batch of [1, 16, 256]) cases[`apply ×${batch}${tag}`] = () => applyCase(p, mixed, batch)
    // A Node client that only handles events: flushes find no listener, nobody reads the store.
    cases[`apply, unread${tag}`] = () => applyCase(p, mixed, 16, undefined, 0, false)
    // The same events all on one channel: the store folds each once (its channel's state is the
    // merged one) instead of twice (into the merged state and the channel's own).
    const oneChannel = mixed.map(([, event]) => ['global', event])
    cases[`apply, unread, one channel${tag}`] = () => applyCase(p, oneChannel, 16, undefined, 0, false)
    cases[`JSON.parse + apply ×16${tag}`] = () => applyCase(p, mixed, 16, frames)
    const fleet = () => {
      let s = p.initialState()
      for (let a = 0; a < AGENTS; a++) s = p.reduce(s, { type: 'agent.status', payload: { name: `agent-${a}`, status: 'offline' } })
      return s
    }
    cases[`1k agents: reduce${tag}`] = () => foldCase(p, agentUpdates, fleet())
    for (const batch of [1, 16, 256]) cases[`1k agents: apply ×${batch}${tag}`] = () => applyCase(p, agentUpdates, batch, undefined, AGENTS)
  }

  function foldCase(p, items, from) {
    let state = from
    return () => {
      for (let i = 0; i < items.length; i++) state = p.reduce(state, items[i][1])
      sink += Object.keys(state.agents).length
    }
  }

  /** `apply` every event, flushing every `batch` events to a listener that reads the snapshot. */
  function applyCase(p, items, batch, texts, fleet = 0, read = true) {
    const store = p.createStore({ schedule: () => {} })
    if (read) {
      store.subscribe(() => {
        sink += store.getSnapshot().decisions.length
      })
    }
    for (let a = 0; a < fleet; a++) store.apply(`agent:agent-${a}`, { type: 'agent.status', payload: { name: `agent-${a}`, status: 'offline' } })
    store.flush()
    return () => {
      for (let i = 0; i < items.length; i++) {
        const [channel, event] = items[i]
        if (texts === undefined) store.apply(channel, event)
        else {
          const m = JSON.parse(texts[i])
          store.apply(m.channel, m.event)
        }
        if ((i + 1) % batch === 0) store.flush()
      }
      store.flush()
    }
  }

  const names = Object.keys(cases).filter((n) => n === 'JSON.parse' || !ONLY || ONLY.some((o) => n.includes(o)))
  const sizes = Object.fromEntries(names.map((n) => [n, n.startsWith('1k') ? UPDATES : EVENTS]))
  const fns = Object.fromEntries(names.map((n) => [n, cases[n]()]))
  const rates = Object.fromEntries(names.map((n) => [n, []]))
  // CPU time of this process (user + system, in ms), not wall time: on a shared machine the
  // wall clock also counts the time other processes held the core, CPU time mostly does not.
  const cpuMs = () => {
    const { user, system } = process.cpuUsage()
    return (user + system) / 1000
  }
  const timeOf = (fn) => {
    // Each case pays for its own garbage, not for what the case before it left behind.
    collectGarbage()
    const t0 = cpuMs()
    for (let k = 0; k < PASSES; k++) fn()
    return cpuMs() - t0
  }
  // Warm every path (JIT tiers, dictionary-mode records) before the first timed round.
  for (const n of names) timeOf(fns[n])
  for (let r = 0; r < ROUNDS; r++) {
    for (let j = 0; j < names.length; j++) {
      const n = names[(r + j) % names.length]
      rates[n].push(((sizes[n] * PASSES) / timeOf(fns[n])) * 1000)
    }
  }

  // The median of per-round ratios is the figure to quote; the best round of each case (its
  // least disturbed run) is printed beside it, since on a loaded machine it is the steadier one.
  const base = rates['JSON.parse']
  const best = (xs) => Math.max(...xs)
  const k = (x) => `${(x / 1e3).toFixed(0)}k/s`.padStart(8)
  const x = (v) => `${v.toFixed(2)}x`
  console.log(`${EVENTS} events of ${bytes.toFixed(0)} characters on average (as frames), ${PASSES} passes per round, ${ROUNDS} rounds (node ${process.version})`)
  console.log(`rates: median (best round); ratios: median of per-round ratios (ratio of best rounds)`)
  if (BASELINE) {
    console.log(`before = ${BASELINE}, after = working tree`)
    console.log(`${'JSON.parse'.padEnd(24)} ${k(median(base))} (${k(best(base)).trim()})`)
    for (const n of names) {
      if (!n.endsWith(' [after]')) continue
      const name = n.slice(0, -' [after]'.length)
      const b = rates[`${name} [before]`]
      const a = rates[n]
      const speedup = a.map((v, i) => v / b[i])
      console.log(
        `${name.padEnd(24)} before ${k(median(b))} (${k(best(b)).trim()}) ${x(median(b.map((v, i) => v / base[i])))} of parse` +
          `   after ${k(median(a))} (${k(best(a)).trim()}) ${x(median(a.map((v, i) => v / base[i])))} of parse` +
          `   after/before ${x(median(speedup))} (${x(best(a) / best(b))})`,
      )
    }
  } else {
    for (const n of names) {
      const ratios = rates[n].map((v, i) => v / base[i])
      console.log(`${n.padEnd(24)} ${k(median(rates[n]))} (${k(best(rates[n])).trim()})   ${x(median(ratios))} of JSON.parse (${x(best(rates[n]) / best(base))})`)
    }
  }
  if (sink === 42) console.log('')
}
