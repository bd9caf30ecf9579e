import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { afterEach, describe, expect, it } from 'vitest'
import { Server, WebSocket } from 'mock-socket'
import { createClient, type Client, type WebSocketConstructor } from 'agentwire'
import { dialects } from 'agentwire/protocol'
import { fakeUrl } from './support/fake-gateway'

const W = WebSocket as unknown as WebSocketConstructor
const SEEDS = ['routing', 'webgui', 'rooms', 'progress', 'forge'] as const
/** A string only each seed codec holds: its presence in a bundle means that codec is in it. */
const MARKERS: Record<(typeof SEEDS)[number], string> = {
  routing: 'routing_decision',
  webgui: 'session_status_changed',
  rooms: 'chat:messageCreated',
  progress: 'executor.step.progress',
  forge: 'task_started',
}

const root = fileURLToPath(new URL('../..', import.meta.url))
/** A minified browser bundle of `contents`, the public specifiers resolved to the sources (as bench/sizes.mjs does). */
async function bundle(contents: string): Promise<string> {
  const result = await build({
    stdin: { contents, resolveDir: root, loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    logLevel: 'silent',
    plugins: [
      {
        name: 'agentwire-sources',
        setup(b) {
          b.onResolve({ filter: /^agentwire(\/[a-z.]+)?$/ }, (args) => ({
            path: `${root}src/${args.path === 'agentwire' ? 'index.ts' : `${args.path.slice('agentwire/'.length)}/index.ts`}`,
          }))
        },
      },
    ],
  })
  return result.outputFiles[0]!.text
}

const open: Array<{ close(): void } | { stop(): void }> = []
afterEach(() => {
  for (const o of open.splice(0)) 'close' in o ? o.close() : o.stop()
})

describe('choosing a dialect', () => {
  it('a seed dialect by name throws at once, naming the import to use instead', () => {
    for (const name of SEEDS) {
      const attempt = () => createClient({ url: 'ws://x.test/ws', WebSocket: W, environment: null, dialect: name as 'agentwire' })
      expect(attempt).toThrow(TypeError)
      expect(attempt).toThrow(`import { dialects } from 'agentwire/protocol' and pass dialect: dialects.${name}`)
      expect(attempt).toThrow(/createNodeClient from 'agentwire\/node', which takes names/)
    }
    expect(() => createClient({ url: 'ws://x.test/ws', WebSocket: W, dialect: 'routingg' as 'agentwire' })).toThrow(/unknown dialect "routingg".*'agentwire' or a Codec/)
    expect(() => createClient({ url: 'ws://x.test/ws', WebSocket: W, dialect: {} as 'agentwire' })).toThrow(/must be 'agentwire' or a Codec/)
  })

  it("'agentwire' by name and the default are the native protocol", () => {
    for (const dialect of ['agentwire', undefined] as const) {
      const client = createClient({ url: 'ws://x.test/ws', WebSocket: W, environment: null, autoConnect: false, ...(dialect ? { dialect } : {}) })
      expect(client.state).toBe('idle')
      client.close()
    }
  })

  it('a seed codec object from agentwire/protocol talks to that backend', async () => {
    // The routing seed: a plain WebSocket that broadcasts { type, payload } to everyone.
    const url = fakeUrl()
    const server = new Server(url)
    open.push(server)
    server.on('connection', (socket) => {
      socket.send(JSON.stringify({ type: 'agent_status', payload: { name: 'planner', status: 'busy', load: 0.25 } }))
    })
    const client: Client = createClient({ url, WebSocket: W, environment: null, dialect: dialects.routing })
    open.push(client)
    client.subscribe('agent:planner')
    for (let i = 0; i < 500 && client.getSnapshot().agents.planner === undefined; i++) await new Promise((r) => setTimeout(r, 10))
    expect(client.getSnapshot().agents.planner).toMatchObject({ status: 'busy', load: 0.25 })
  })

  it('a browser bundle of createClient carries no seed codec; importing one brings that one', async () => {
    const core = await bundle("export { createClient } from 'agentwire'")
    for (const name of SEEDS) expect(core.includes(MARKERS[name]), name).toBe(false)
    const withRouting = await bundle("export { createClient } from 'agentwire'; export { routing } from 'agentwire/protocol'")
    expect(withRouting.includes(MARKERS.routing)).toBe(true)
    expect(withRouting.includes(MARKERS.webgui)).toBe(false)
  })
})
