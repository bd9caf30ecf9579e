#!/usr/bin/env node
// In-process microbenchmark of the native codec's hot path: decoding typical event frames
// (~150–200 bytes, the same mix the receive case sends) against a bare `JSON.parse` of the
// same text, and against the zod-only decode the codec used before its fast path.
//
//   node bench/protocol-micro.mjs [--rounds=15] [--frames=5000] [--passes=20]
//
// It bundles src/protocol with esbuild first (zod/mini inside, as a browser gets it), so it
// measures the sources as they are, with no `npm run build`. Rounds are interleaved
// (parse, decode, zod, parse, …, with the order rotated each round) and every ratio is taken
// within one round, because this machine is shared and absolute rates drift by ±20–30 %.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { build } from 'esbuild'
import { eventFrames, median, here } from './lib.mjs'

const arg = (name, fallback) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback)
const ROUNDS = arg('rounds', 15)
const FRAMES = arg('frames', 5000)
const PASSES = arg('passes', 20)

const dir = mkdtempSync(join(tmpdir(), 'agentwire-micro-'))
const outfile = join(dir, 'protocol.mjs')
try {
  await build({
    stdin: {
      contents: "export * from './src/protocol/index.ts'\nexport * as z from 'zod/mini'",
      resolveDir: here('..'),
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    outfile,
    logLevel: 'silent',
  })
  const p = await import(pathToFileURL(outfile).href)
  run(p)
} finally {
  rmSync(dir, { recursive: true, force: true })
}

function run(p) {
  const { frames } = eventFrames(FRAMES)
  const bytes = frames.reduce((n, f) => n + f.length, 0) / frames.length
  const codec = p.dialects.agentwire

  // The decode the codec ran before its fast path: parseJson, then the zod schema of the frame's event type.
  const zodFrames = new Map()
  const zodDecode = (text) => {
    const parsed = p.parseJson(text)
    if (!parsed.ok) return parsed
    const type = parsed.value.event.type
    let schema = zodFrames.get(type)
    if (schema === undefined) zodFrames.set(type, (schema = p.z.extend(p.EventFrame, { event: p.eventSchemas[type] })))
    return p.validate(schema, parsed.value, 'event')
  }

  // Every decode must succeed, or the figures would measure the error path.
  for (const f of frames) {
    const r = codec.decode(f)
    if (!r.ok || r.messages.length !== 1) throw new Error(`decode failed: ${r.ok ? 'no message' : r.error.message}`)
    if (!zodDecode(f).ok) throw new Error('zod decode failed')
  }

  let sink = 0
  const cases = {
    'JSON.parse': () => {
      for (let i = 0; i < frames.length; i++) sink += JSON.parse(frames[i]).seq
    },
    'codec.decode': () => {
      for (let i = 0; i < frames.length; i++) sink += codec.decode(frames[i]).messages[0].seq
    },
    'parseJson + zod': () => {
      for (let i = 0; i < frames.length; i++) sink += zodDecode(frames[i]).value.seq
    },
  }
  const names = Object.keys(cases)
  const rates = Object.fromEntries(names.map((n) => [n, []]))
  const timeOf = (fn) => {
    const t0 = performance.now()
    for (let k = 0; k < PASSES; k++) fn()
    return performance.now() - t0
  }
  // Warm every path (per-variant compilation, JIT tiers) before the first timed round.
  for (const n of names) timeOf(cases[n])
  for (let r = 0; r < ROUNDS; r++) {
    for (let j = 0; j < names.length; j++) {
      const n = names[(r + j) % names.length]
      rates[n].push((frames.length * PASSES) / timeOf(cases[n]) * 1000)
    }
  }

  const base = rates['JSON.parse']
  console.log(`${frames.length} frames of ${bytes.toFixed(0)} characters on average, ${PASSES} passes per round, ${ROUNDS} rounds (node ${process.version})`)
  for (const n of names) {
    const ratios = rates[n].map((x, i) => x / base[i])
    const fmt = (x) => x.toFixed(2)
    console.log(`${n.padEnd(18)} ${(median(rates[n]) / 1e6).toFixed(2).padStart(6)}M frames/s   ${fmt(median(ratios))}x of JSON.parse (min ${fmt(Math.min(...ratios))}, max ${fmt(Math.max(...ratios))})`)
  }
  if (sink === 42) console.log('')
}
