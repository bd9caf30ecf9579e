import { spawn } from 'node:child_process'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createNodeClient } from 'agentwire/node'
import { buildCli, root } from '../cli/build'
import { startTestAgent } from './agent-server'

/** `agentwire serve --agui <url>`: the bin in front of an AG-UI agent, as a user runs it. */

let cli: string
beforeAll(async () => {
  cli = await buildCli()
}, 120_000)
const closers: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c()
})

describe('agentwire serve --agui', () => {
  it('runs the agent on start and streams its answer to an agentwire client; a bad URL is a usage error', async () => {
    const agent = await startTestAgent()
    closers.push(() => agent.close())
    const child = spawn(process.execPath, [cli, 'serve', '--port', '0', '--agui', agent.url], { cwd: root, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    closers.push(async () => {
      if (child.exitCode === null) child.kill('SIGTERM')
      await exited
    })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
    const deadline = Date.now() + 20_000
    while (!/AG-UI\s+http:\/\/\S+\/agui/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    const ws = /websocket\s+(ws:\/\/\S+)/.exec(out)?.[1]
    expect(ws, out).toBeDefined()

    const client = createNodeClient({ url: ws! })
    closers.push(() => client.close())
    await client.ready()
    const run = client.start({ query: 'What is the answer?', requestId: 'r1' })
    agent.resume()
    agent.resume()
    await expect(run.result).resolves.toEqual({ answer: 42 })
    expect(client.getSnapshot().requests.r1?.messages?.[0]).toMatchObject({ text: 'The answer is forty-two.', status: 'done' })

    const bad = spawn(process.execPath, [cli, 'serve', '--port', '0', '--agui', 'not a url'], { cwd: root, stdio: 'ignore' })
    expect(await new Promise((resolve) => bad.on('exit', resolve))).toBe(2)
  })
})
