#!/usr/bin/env node
// What Redis spends per script call on the publish path, piece by piece: a Redis of its own with
// two bare subscribers on the notify channel, one call per event at a paced rate (Redis cold
// between calls, as in the publish case), for scripts that do a part of what the publish script
// does, with the same keys and arguments, then the publish path itself (createPublisher). Prints
// Redis's CPU per call (INFO used_cpu) and the µs INFO commandstats gives EVALSHA and each command.
// node bench/profile-script.mjs [--rate=1000] [--n=2000]
import { createConnection } from 'node:net'
import { spawnSync } from 'node:child_process'
import { startRedis } from './lib.mjs'

const arg = (name, fallback) => process.argv.slice(2).find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback
const rate = Number(arg('rate', '1000'))
const n = Number(arg('n', '2000'))
const redis = await startRedis()
if (!redis) throw new Error('no redis-server on PATH')
const cli = (...a) => spawnSync('redis-cli', ['-p', String(redis.port), ...a], { encoding: 'utf8' }).stdout.trim()
const prefix = 'prof'
const notify = `${prefix}:n:global`
const scripts = {
  'return 1 (the call itself)': 'return 1',
  HMGET: "redis.call('HMGET', KEYS[1], 'epoch', 'seq', 'head') return 1",
  'HSET seq': "redis.call('HSET', KEYS[1], 'seq', ARGV[2]) return 1",
  'HSET seq, state': "redis.call('HSET', KEYS[1], 'seq', ARGV[2], 'state', ARGV[3]) return 1",
  'XADD MAXLEN ~': "redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 't', ARGV[5], 'e', ARGV[10]) return 1",
  'PUBLISH (2 subscribers)': "redis.call('PUBLISH', ARGV[9], ARGV[8] .. '\\n' .. ARGV[1] .. '\\n' .. ARGV[2] .. '\\n' .. ARGV[5] .. '\\n' .. ARGV[10]) return 1",
  'all four': [
    "local m = redis.call('HMGET', KEYS[1], 'epoch', 'seq', 'head')",
    "redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 't', ARGV[5], 'e', ARGV[10])",
    "redis.call('PUBLISH', ARGV[9], ARGV[8] .. '\\n' .. ARGV[1] .. '\\n' .. ARGV[2] .. '\\n' .. ARGV[5] .. '\\n' .. ARGV[10])",
    "redis.call('HSET', KEYS[1], 'seq', ARGV[2], 'state', ARGV[3], 'head', 0) return {1, 'epoch', 1}",
  ].join('\n'),
}
const sha = Object.fromEntries(Object.entries(scripts).map(([k, s]) => [k, cli('SCRIPT', 'LOAD', s)]))

const subscribers = []
for (let i = 0; i < 2; i++) {
  const s = createConnection(redis.port, '127.0.0.1')
  await new Promise((r) => s.once('connect', r))
  s.write(`*2\r\n$9\r\nSUBSCRIBE\r\n$${notify.length}\r\n${notify}\r\n`)
  s.on('data', () => undefined)
  subscribers.push(s)
}
const socket = createConnection(redis.port, '127.0.0.1')
await new Promise((r) => socket.once('connect', r))
let waiting
socket.on('data', () => waiting?.())
const encode = (args) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`
const state = JSON.stringify({ agents: {}, tasks: {}, requests: {}, sessions: {}, chats: {}, collections: {}, knowledge: { nodes: {}, edges: {} }, metrics: { 'custom:bench': { i: 1, t: 1.5 } }, dashboard: null, notifications: [], decisions: [] })
const event = JSON.stringify({ type: 'metrics.snapshot', payload: { scope: 'custom', name: 'bench', values: { i: 1, t: 1700000000000.123 } } })
const keys = ['meta', 'log', 'channels', 'births', 'born'].map((k) => `${prefix}:${k}:global`)
const call = (s) =>
  new Promise((resolve) => {
    waiting = resolve
    socket.write(encode(['EVALSHA', s, '5', ...keys, 'epoch', '5', state, 'candidate', String(Date.now()), '1000', '0', 'global', notify, event]))
  })

async function paced(one) {
  for (let i = 0; i < 50; i++) await one(i)
  cli('CONFIG', 'RESETSTAT')
  const cpu0 = redis.info().cpu
  const t0 = performance.now()
  for (let i = 0; i < n; i++) {
    await one(i)
    const wait = ((i + 1) * 1000) / rate - (performance.now() - t0)
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
  }
  const cpu = ((redis.info().cpu - cpu0) * 1e6) / n
  const stats = [...cli('INFO', 'commandstats').matchAll(/^cmdstat_(\w+):calls=(\d+),usec=(\d+)/gm)].filter((m) => m[1] !== 'config').map((m) => `${m[1]} ${(Number(m[3]) / n).toFixed(1)}`)
  return `Redis ${cpu.toFixed(1).padStart(5)} µs CPU per event; µs per event in ${stats.join(', ')}`
}

console.log(`${rate} calls/s, ${n} calls each, two subscribers on the notify channel`)
for (const [name, s] of Object.entries(sha)) console.log(`${name.padEnd(28)} ${await paced(() => call(s))}`)
const { createPublisher } = await import('agentwire/redis')
const publisher = createPublisher({ url: redis.url, prefix })
const metrics = (i) => ({ type: 'metrics.snapshot', payload: { scope: 'custom', name: 'bench', values: { i, t: Date.now() } } })
console.log(`${'the publish path'.padEnd(28)} ${await paced((i) => publisher.publish('global', metrics(i)))}`)
await publisher.close()
socket.destroy()
subscribers.forEach((s) => s.destroy())
await redis.stop()
