import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { extname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, expect, it } from 'vitest'
import { build } from 'vite'
import { chromium, type Browser, type Page } from 'playwright-core'
import { createGateway, startSimulator, type Gateway, type Simulator } from 'agentwire/server'
import type { AgentwireState } from 'agentwire/protocol'
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy'

/**
 * One example dashboard in headless Chromium against a real gateway and the simulated fleet,
 * behind a fault proxy: it shows the fleet, rides out a gateway restart that loses the log
 * (a fresh memory broker: a new epoch), and ends showing exactly the server's state.
 */

const root = fileURLToPath(new URL('../../', import.meta.url))
export const artifacts = `${root}test/artifacts/e2e`
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' }

export interface Scenario {
  page: Page
  /** Closes the gateway, checks the page shows it, starts a fresh one behind the same address. */
  restartGateway(): Promise<void>
  /** Stops the fleet, then waits until the page shows the server's agents and tasks exactly. */
  expectPageMatchesServer(): Promise<void>
  screenshot(name: string): Promise<void>
  problems: string[]
  close(): Promise<void>
}

export async function startScenario(example: 'react-dashboard' | 'vue-dashboard'): Promise<Scenario> {
  const outDir = mkdtempSync(join(tmpdir(), `agentwire-${example}-`))
  await build({ root: `${root}examples/${example}`, logLevel: 'error', build: { outDir, emptyOutDir: true } })
  const files = await serve(outDir)

  let gateway: Gateway = await startGateway()
  const proxy: FaultProxy = await startFaultProxy({ port: gateway.port })
  // The fleet publishes into whichever gateway is up; while none is, its events are lost, as a crashed node's would be.
  const simulator: Simulator = startSimulator((channel, event) => gateway.publish(channel, event).catch(() => undefined), { seed: 7, tickMs: 100, outages: false })
  function startGateway(): Promise<Gateway> {
    const g = createGateway({ port: 0, onCommand: (command, context) => simulator.onCommand(command, context) })
    return g.ready.then(() => g)
  }

  const browser: Browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  })
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  const problems: string[] = []
  // E2E_DEBUG=1: every frame both ways, and the gateway's restart, in test/artifacts/e2e/<example>-frames.log.
  const frames: string[] = []
  const started = Date.now()
  const note = (line: string) => frames.push(`${String(Date.now() - started).padStart(6)} ${line}`)
  if (process.env['E2E_DEBUG']) page.on('websocket', (ws) => {
    note(`ws open ${ws.url()}`)
    ws.on('framesent', (f) => note(`>> ${String(f.payload)}`))
    ws.on('framereceived', (f) => note(`<< ${String(f.payload)}`))
    ws.on('close', () => note('ws closed'))
  })
  page.on('pageerror', (error) => problems.push(error.message))
  const filesPort = (files.address() as { port: number }).port
  await page.goto(`http://127.0.0.1:${filesPort}/index.html?url=${encodeURIComponent(proxy.url('/ws'))}`)
  mkdirSync(artifacts, { recursive: true })

  const connection = page.locator('[data-testid="connection"]')
  return {
    page,
    problems,
    async restartGateway() {
      note('gateway closing')
      await gateway.close({ drainMs: 0 })
      await expect.poll(() => connection.getAttribute('data-state'), { timeout: 30_000 }).toMatch(/reconnecting|connecting/)
      await page.screenshot({ path: `${artifacts}/${example}-reconnecting.png` })
      gateway = await startGateway()
      proxy.retarget(gateway.port)
      note('gateway restarted')
      await expect.poll(() => connection.getAttribute('data-state'), { timeout: 60_000 }).toBe('open')
    },
    async expectPageMatchesServer() {
      simulator.stop()
      await expect.poll(async () => diff(await pageView(page), await serverView(gateway)), { timeout: 60_000, interval: 250 }).toEqual([])
    },
    screenshot: (name) => page.screenshot({ path: `${artifacts}/${example}-${name}.png`, fullPage: true }).then(() => undefined),
    async close() {
      simulator.stop()
      if (process.env['E2E_DEBUG']) writeFileSync(`${artifacts}/${example}-frames.log`, frames.join('\n') + '\n')
      await browser.close()
      await proxy.close()
      await gateway.close({ drainMs: 0 })
      await new Promise((resolve) => files.close(resolve))
      rmSync(outDir, { recursive: true, force: true })
    },
  }
}

interface View {
  agents: Record<string, string | undefined>
  tasks: Record<string, number>
}

function pageView(page: Page): Promise<View> {
  return page.evaluate(() => {
    const agents: Record<string, string | undefined> = {}
    const tasks: Record<string, number> = {}
    for (const el of document.querySelectorAll<HTMLElement>('[data-agent]')) agents[el.dataset['agent']!] = el.dataset['status']
    for (const el of document.querySelectorAll<HTMLElement>('[data-task]')) tasks[el.dataset['task']!] = Number(el.dataset['progress'])
    return { agents, tasks }
  })
}

/** The server's truth: each channel's snapshot, as `reduce` built it from the broker's log. */
async function serverView(gateway: Gateway): Promise<View & { taskIds: string[] }> {
  const merged = async (pattern: string) => {
    const states: AgentwireState[] = []
    for (const channel of await gateway.broker.channels(pattern)) states.push((await gateway.broker.snapshot(channel)).state)
    return states
  }
  const agents: Record<string, string | undefined> = {}
  for (const s of await merged('agent:*')) for (const a of Object.values(s.agents)) agents[a.name] = a.status
  const tasks: Record<string, number> = {}
  for (const s of await merged('task:*')) for (const t of Object.values(s.tasks)) tasks[t.id] = t.progress
  return { agents, tasks, taskIds: Object.keys(tasks) }
}

/** What the page shows that the server does not say: empty when they agree. */
function diff(shown: View, server: View & { taskIds: string[] }): string[] {
  const out: string[] = []
  for (const [name, status] of Object.entries(server.agents)) if (shown.agents[name] !== status) out.push(`agent ${name}: page ${shown.agents[name]}, server ${status}`)
  for (const name of Object.keys(shown.agents)) if (!(name in server.agents)) out.push(`agent ${name}: on the page only`)
  for (const [id, progress] of Object.entries(shown.tasks)) if (server.tasks[id] !== progress) out.push(`task ${id}: page ${progress}, server ${server.tasks[id]}`)
  if (Object.keys(shown.tasks).length === 0 && server.taskIds.length > 0) out.push('no task on the page')
  if (out.length) out.push(`server tasks: ${server.taskIds.join(' ')}`)
  return out
}

function serve(dir: string): Promise<Server> {
  const server = createServer((request, response) => {
    const path = normalize(decodeURIComponent((request.url ?? '/').split('?')[0]!)).replace(/^(\.\.[/\\])+/, '')
    try {
      const body = readFileSync(join(dir, path === '/' ? 'index.html' : path))
      response.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(body)
    } catch {
      response.writeHead(404).end()
    }
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

/**
 * The browser test both examples run: the fleet appears, a gateway restart with a new epoch is
 * ridden out, and the page ends equal to the server.
 */
export function exampleTest(example: 'react-dashboard' | 'vue-dashboard'): void {
  let scenario: Scenario | undefined
  afterEach(async () => {
    await scenario?.close()
    scenario = undefined
  })

  it('shows the fleet, rides out a gateway restart with a new epoch, and ends equal to the server', { timeout: 480_000 }, async () => {
    scenario = await startScenario(example)
    const { page } = scenario
    await page.locator('[data-testid="connection"][data-state="open"]').waitFor({ timeout: 60_000 })
    await expect.poll(() => page.locator('[data-agent][data-status]').count(), { timeout: 60_000 }).toBeGreaterThanOrEqual(6)
    await expect.poll(() => page.locator('[data-task]').evaluateAll((rows) => rows.some((r) => Number((r as HTMLElement).dataset['progress']) > 0)), { timeout: 60_000 }).toBe(true)
    await scenario.screenshot('before-restart')

    await scenario.restartGateway()
    // The fresh gateway has its own log: the page resyncs from its snapshots and keeps following.
    await expect.poll(() => page.locator('[data-task]').count(), { timeout: 60_000 }).toBeGreaterThan(0)
    await scenario.expectPageMatchesServer()
    await scenario.screenshot('after-restart')
    expect(scenario.problems).toEqual([])
  })
}
