import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { createNodeClient, type NodeClient } from 'agentwire/node'
import { createGateway, startSimulator, type Gateway, type GatewayOptions, type Simulator } from 'agentwire/server'

/**
 * The README's code, checked so it cannot drift from the package: every ```ts and ```tsx block
 * is type-checked against the built package (dist/ types, as an app sees them; src/ when dist/
 * was not built), and the Node ones run against a real gateway with the simulated fleet.
 */

const root = fileURLToPath(new URL('../../', import.meta.url))
const out = `${root}test/artifacts/readme`

interface Block {
  /** The README line of the opening fence. */
  line: number
  lang: 'ts' | 'tsx'
  /** The `##`/`###` heading the block sits under. */
  section: string
  code: string
}

function readmeBlocks(): Block[] {
  const lines = readFileSync(`${root}README.md`, 'utf8').split('\n')
  const blocks: Block[] = []
  let section = ''
  for (let i = 0; i < lines.length; i++) {
    const heading = /^#{2,3} (.+)/.exec(lines[i]!)
    if (heading) section = heading[1]!
    const fence = /^```(ts|tsx)\s*$/.exec(lines[i]!)
    if (!fence) continue
    const start = i
    const code: string[] = []
    while (++i < lines.length && lines[i] !== '```') code.push(lines[i]!)
    blocks.push({ line: start + 1, lang: fence[1] as 'ts' | 'tsx', section, code: code.join('\n') })
  }
  return blocks
}

const blocks = readmeBlocks()
const find = (section: string, contains: string): Block => {
  const block = blocks.find((b) => b.section === section && b.code.includes(contains))
  if (!block) throw new Error(`README: no code block under "${section}" containing ${contains}`)
  return block
}

// What the snippets leave to the reader, declared for the type check.
const DECLARED = `
declare function fetchToken(): Promise<string>
declare function verify(token: string | undefined): Promise<{ userId: string } | null>
declare const done: boolean
export {}
`

function tsc(project: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', project], { timeout: 120_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: stdout + stderr })
    })
  })
}

describe('README code blocks', () => {
  it('finds the blocks it checks', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(8)
  })

  it('type-check against the built package', async () => {
    const dir = `${out}/typecheck`
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    // Built types when there are (npm test builds before vitest runs); the sources otherwise.
    const built = existsSync(`${root}dist/index.d.ts`)
    const paths = built ? { agentwire: [`${root}dist/index.d.ts`], 'agentwire/*': [`${root}dist/*.d.ts`] } : { agentwire: [`${root}src/index.ts`], 'agentwire/*': [`${root}src/*/index.ts`] }
    writeFileSync(
      `${dir}/tsconfig.json`,
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'ESNext',
          moduleResolution: 'Bundler',
          lib: ['ES2022', 'DOM', 'DOM.Iterable'],
          types: ['node'],
          jsx: 'react-jsx',
          strict: true,
          skipLibCheck: true,
          noEmit: true,
          paths,
        },
        include: ['*.ts', '*.tsx'],
      }),
    )
    // Each block is a module of its own, named after its line; the declarations go after the
    // code, so tsc's line numbers count from the fence.
    for (const block of blocks) writeFileSync(`${dir}/readme-line-${block.line}.${block.lang}`, `${block.code}\n${DECLARED}`)
    const { code, output } = await tsc(`${dir}/tsconfig.json`)
    const located = output.replace(/readme-line-(\d+)\.tsx?\((\d+),(\d+)\)/g, (_, fence: string, line: string, col: string) => `README.md:${Number(fence) + Number(line)}:${col}`)
    expect(located, `against ${built ? 'dist/' : 'src/'}`).toBe('')
    expect(code).toBe(0)
  }, 150_000)
})

describe('README Node blocks, run against a gateway', () => {
  const gateways: Gateway[] = []
  const clients: NodeClient[] = []
  const simulators: Simulator[] = []
  afterAll(async () => {
    for (const client of clients) client.close()
    for (const simulator of simulators) simulator.stop()
    await Promise.all(gateways.map((g) => g.close({ drainMs: 0 })))
  })

  /** A gateway with the demo's simulated fleet, fast: requests only when started, a step per 20 ms. */
  async function fleet(): Promise<Gateway> {
    let simulator: Simulator | undefined
    const onCommand: GatewayOptions['onCommand'] = (command, context) => (simulator ? simulator.onCommand(command, context) : context.defaultHandler())
    const gateway = createGateway({ port: 0, onCommand })
    gateways.push(gateway)
    await gateway.ready
    simulator = startSimulator((channel, event) => gateway.publish(channel, event), { seed: 1, tickMs: 20, requestEveryMs: 0, autoAnswerMs: 0, onError: () => undefined })
    simulators.push(simulator)
    return gateway
  }

  /**
   * Writes a block, with what it leaves to the reader, as a module under test/artifacts and runs
   * it (vitest resolves the public specifiers to src/). Its console.log goes nowhere.
   */
  async function runBlock(name: string, block: Block, url: string, prelude: string, postlude = ''): Promise<Record<string, unknown>> {
    const dir = `${out}/run`
    mkdirSync(dir, { recursive: true })
    const code = block.code.replaceAll('ws://localhost:8787/ws', url).replace('port: 8787', 'port: 0')
    const file = `${dir}/${name}.ts`
    writeFileSync(file, `const console = { log: (..._: unknown[]) => undefined }\n${prelude}\n${code}\n${postlude}\n`)
    return (await import(/* @vite-ignore */ file)) as Record<string, unknown>
  }

  it('"A first client": starts a request, answers its question and gets the result (ws as the global WebSocket, as on Node 22)', async () => {
    const gateway = await fleet()
    const ran = runBlock(
      'first-client',
      find('A first client', 'client.start('),
      gateway.url,
      `import NodeWebSocket from 'ws'\nif (!('WebSocket' in globalThis)) Object.assign(globalThis, { WebSocket: NodeWebSocket })\nconst fetchToken = async () => 'a token'`,
      'export { run }',
    )
    const { run } = (await Promise.race([ran, new Promise((_, reject) => setTimeout(() => reject(new Error('the block did not finish within 20 s')), 20_000))])) as { run: { getState(): unknown } }
    expect(run.getState()).toMatchObject({ status: 'completed' })
  }, 30_000)

  it('"A first client" on Node 20: the ws class as the WebSocket option', async () => {
    const gateway = await fleet()
    const { client } = (await runBlock('first-client-node', find('A first client', "from 'ws'"), gateway.url, '', 'export { client }')) as { client: NodeClient }
    clients.push(client)
    await expect.poll(() => client.state, { timeout: 10_000 }).toBe('open')
  }, 30_000)

  it('"Node": ready(), then events as an async iterator', async () => {
    const gateway = await fleet()
    // done is true: the loop ends after the first event of task:*, and unsubscribes.
    const { client } = (await runBlock('node', find('Node', 'createNodeClient'), gateway.url, 'const done = true', 'export { client }')) as { client: NodeClient }
    clients.push(client)
    expect(client.state).toBe('open')
  }, 30_000)

  it('"The gateway": a user may subscribe to their own user channel and not to another\'s', async () => {
    const { gateway } = (await runBlock(
      'gateway',
      find('The gateway', 'createGateway'),
      '',
      'const verify = async (token: string | undefined) => (token ? { userId: token } : null)',
      'export { gateway }',
    )) as { gateway: Gateway }
    gateways.push(gateway)
    const alice = createNodeClient({ url: gateway.url, token: 'alice' })
    clients.push(alice)
    await alice.ready()
    await alice.subscribe('user:alice').ready
    await expect(alice.subscribe('user:bob').ready).rejects.toMatchObject({ code: 'forbidden' })
    await alice.subscribe('agent:planner').ready
  }, 30_000)
})
