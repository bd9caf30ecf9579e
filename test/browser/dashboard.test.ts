import { mkdirSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromium, type Browser, type Page } from 'playwright-core'
import { createGateway, dashboardHandler, startSimulator, type Gateway, type Simulator } from 'agentwire/server'
import { artifacts, buildBrowserCore } from '../cli/build'

/**
 * The dashboard page in a real headless Chromium, against the real gateway and the simulated
 * fleet: it connects, renders agents and tasks from the store as events stream in, and answers
 * a request's question through `client.feedback`.
 */

let gateway: Gateway
let simulator: Simulator
let browser: Browser
let page: Page
const problems: string[] = []

beforeAll(async () => {
  const bundleFile = await buildBrowserCore()
  let sim: Simulator | undefined
  gateway = createGateway({
    port: 0,
    http: dashboardHandler({ bundleFile, title: 'agentwire test fleet' }),
    onCommand: (command, context) => (sim ? sim.onCommand(command, context) : context.defaultHandler()),
  })
  await gateway.ready
  // A brisk fleet: requests come quickly and wait for a human answer.
  simulator = sim = startSimulator((channel, event) => gateway.publish(channel, event), { seed: 21, tickMs: 250, requestEveryMs: 500, autoAnswerMs: 0 })
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  })
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  // Anything the page complains about (a CSP violation, a failed import, an exception) fails the test.
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text())
  })
  page.on('pageerror', (error) => problems.push(error.message))
}, 120_000)

afterAll(async () => {
  simulator?.stop()
  await browser?.close()
  await gateway?.close({ drainMs: 0 })
})

describe('the dashboard page', () => {
  it('connects, and shows agents with status and load and tasks with progress', async () => {
    await page.goto(gateway.url.replace(/^ws/, 'http').replace(/\/ws$/, '/'))
    await page.locator('#conn[data-state="open"]').waitFor({ timeout: 30_000 })
    await expect.poll(() => page.locator('.agent[data-status="busy"], .agent[data-status="available"]').count(), { timeout: 30_000 }).toBeGreaterThanOrEqual(6)
    await page.locator('.task[data-status="running"]').first().waitFor({ timeout: 30_000 })
    await expect.poll(() => page.locator('.task').evaluateAll((rows) => rows.some((r) => Number((r as HTMLElement).dataset['progress']) > 0)), { timeout: 30_000 }).toBe(true)

    const planner = page.locator('.agent[data-name="planner"]')
    await expect.poll(() => planner.locator('.bar i').getAttribute('style'), { timeout: 30_000 }).toMatch(/width:\d+%/)
    // The log shows live events only: the store fills from the subscribe snapshots first, so
    // the first live event (the simulator ticks every 250 ms) may come after every check above.
    await expect.poll(() => page.locator('#log li').count(), { timeout: 30_000 }).toBeGreaterThan(0)
    await expect.poll(() => page.locator('#k-nodes').textContent(), { timeout: 30_000 }).not.toBe('0')
    expect(await page.locator('#url').textContent()).toBe(gateway.url)
    expect(problems).toEqual([])
  })

  it('answers an open question, and the request runs on to completion', async () => {
    const question = page.locator('form.question').first()
    await question.waitFor({ timeout: 30_000 })
    const key = (await question.getAttribute('data-key'))!
    const requestId = key.split('/')[0]!
    await question.locator('button.opt').first().click()
    await page.locator(`form.question[data-key="${key}"]`).waitFor({ state: 'detached', timeout: 30_000 })
    await page.locator(`.request[data-id="${requestId}"][data-status="completed"]`).waitFor({ timeout: 30_000 })

    mkdirSync(artifacts, { recursive: true })
    await page.screenshot({ path: `${artifacts}/dashboard.png`, fullPage: true })
    expect(problems).toEqual([])
  })

  it('starts a request from the page and follows it', async () => {
    await page.locator('#start input[name="query"]').fill('Check the staging deploy')
    await page.locator('#start button').click()
    await expect.poll(() => page.locator('#start-status').textContent(), { timeout: 30_000 }).toMatch(/^started /)
    const id = (await page.locator('#start-status').textContent())!.replace('started ', '')
    await page.locator(`.request[data-id="${id}"]`).waitFor({ timeout: 30_000 })
    await expect.poll(() => page.locator(`.request[data-id="${id}"] .q`).textContent(), { timeout: 30_000 }).toBe('Check the staging deploy')
    expect(problems).toEqual([])
  })
})

describe('the dashboard route', () => {
  let server: Server
  let base: string
  beforeAll(async () => {
    const handler = dashboardHandler({ bundleFile: `${artifacts}/does-not-exist.js` })
    server = createServer((req, res) => {
      if (!handler(req, res)) res.writeHead(404).end()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it('says to run the build when the browser build is missing', async () => {
    const res = await fetch(`${base}/agentwire.js`)
    expect(res.status).toBe(500)
    expect(await res.text()).toContain('Run `npm run build`')
  })

  it('serves the page under a CSP that allows no eval and no other origin', async () => {
    const res = await fetch(`${base}/`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    const csp = res.headers.get('content-security-policy')!
    expect(csp).toContain("default-src 'none'")
    expect(csp).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/]+=*'/)
    expect(csp).not.toContain('unsafe-eval')
    expect(await res.text()).toContain('<meta name="agentwire-ws-path" content="/ws">')
    expect((await fetch(`${base}/other`)).status).toBe(404)
    expect((await fetch(`${base}/`, { method: 'POST' })).status).toBe(404)
  })
})
