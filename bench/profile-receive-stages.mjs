#!/usr/bin/env node
// What each stage of the client's receive path costs, by taking it out: copies of the built
// package (`npm run build` first), each with one stage of `deliver` removed, run through the
// in-process receive profile (bench/profile-receive-inproc.mjs --client-only: decode, positions,
// store, dispatch to five handlers over the receive benchmark's frames, no socket). Variants run
// interleaved, `--reps` times each; the report gives each one's median ns per frame and its
// difference to the whole path. A copy that cannot be made (the built code changed shape) stops
// the run with the pattern that was not found.
// node bench/profile-receive-stages.mjs [--reps=5] [--rounds=5] [--n=200000]
import { execFileSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { here, median } from './lib.mjs'

const arg = (name, fallback) => process.argv.slice(2).find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback
const reps = Number(arg('reps', '5'))
const rounds = arg('rounds', '5')
const n = arg('n', '200000')

// Each stage: what it is, and the lines of dist/index.js that remove it.
const STAGES = [
  ['whole path', []],
  ['without the store fold', [['    store.apply(channel, event);\n', '']]],
  ['without positions (dedupe)', [['const verdict = positions.judge(channel, message.epoch, message.seq);', 'const verdict = "deliver";']]],
  ['without the subscription check', [['    if (!subscriptions.covers(channel)) return;\n', '']]],
  ['without the "event" dispatch', [['      emitter.emit("event", event, ctx);\n', '']]],
  ['without the request tracker', [['    if (isEventType(event.type)) requests.event(event);\n', '']]],
  ['without the liveness clock', [['    connection.received();\n', '']]],
]

const root = here('..')
const built = readFileSync(join(root, 'dist/index.js'), 'utf8')
const dir = mkdtempSync(join(tmpdir(), 'agentwire-stages-'))
try {
  const copies = STAGES.map(([name, edits], i) => {
    const copy = join(dir, String(i))
    mkdirSync(join(copy, 'bench'), { recursive: true })
    cpSync(join(root, 'dist'), join(copy, 'dist'), { recursive: true })
    cpSync(join(root, 'package.json'), join(copy, 'package.json'))
    for (const f of ['profile-receive-inproc.mjs', 'lib.mjs']) cpSync(join(root, 'bench', f), join(copy, 'bench', f))
    symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'))
    let code = built
    for (const [from, to] of edits) {
      if (code.split(from).length !== 2) throw new Error(`${name}: "${from.trim()}" is not in dist/index.js exactly once; update STAGES`)
      code = code.replace(from, to)
    }
    writeFileSync(join(copy, 'dist/index.js'), code)
    return { name, copy, ns: [] }
  })
  const parse = []
  const decode = []
  for (let r = 0; r < reps; r++) {
    // Rotated each repetition, so no variant always runs first.
    for (let k = 0; k < copies.length; k++) {
      const c = copies[(k + r) % copies.length]
      // The whole path's runs also time JSON.parse and the codec's decode alone.
      const only = c === copies[0] ? [] : ['--client-only']
      const out = execFileSync(process.execPath, ['--expose-gc', 'bench/profile-receive-inproc.mjs', ...only, `--rounds=${rounds}`, `--n=${n}`], { cwd: c.copy, encoding: 'utf8' })
      const ns = (label) => Number(new RegExp(`^${label}\\s+(\\d+) ns/frame`, 'm').exec(out)[1])
      c.ns.push(ns('client \\(full path\\)'))
      if (c === copies[0]) (parse.push(ns('JSON\\.parse')), decode.push(ns('codec\\.decode')))
    }
  }
  const whole = median(copies[0].ns)
  console.log(`ns per frame, median of ${reps} (best of ${rounds} rounds each), ${n} frames; the stage's cost is the difference`)
  console.log(`${'JSON.parse alone'.padEnd(32)} ${String(median(parse)).padStart(6)}`)
  console.log(`${'the codec\'s decode alone'.padEnd(32)} ${String(median(decode)).padStart(6)}`)
  for (const c of copies) {
    const m = median(c.ns)
    console.log(`${c.name.padEnd(32)} ${String(m).padStart(6)}  ${c === copies[0] ? '' : `${String(whole - m).padStart(5)} ns`}   (${Math.min(...c.ns)}–${Math.max(...c.ns)})`)
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
