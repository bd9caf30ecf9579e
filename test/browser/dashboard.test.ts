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

  it('starts a request from the page and follows it, shown by a short id', async () => {
    const id = await startFromPage('Check the staging deploy')
    const short = id.slice(0, 8)
    expect(await page.locator('#start-status').textContent()).toBe(`started ${short}`)
    await expect.poll(() => page.locator(`.request[data-id="${id}"] .q`).textContent(), { timeout: 30_000 }).toBe('Check the staging deploy')
    expect(await page.locator(`.request[data-id="${id}"] b`).textContent()).toBe(short)
    expect(await page.locator(`.request[data-id="${id}"] b`).getAttribute('title')).toBe(id)
    expect(problems).toEqual([])
  })

  it('cancels a request from its Cancel button', async () => {
    const id = await startFromPage('Summarise last week')
    const request = page.locator(`.request[data-id="${id}"]`)
    // The simulated fleet waits for an answer (autoAnswerMs 0): the request stays open until cancelled.
    await request.locator('button.cancel').click({ timeout: 30_000 })
    await page.locator(`.request[data-id="${id}"][data-status="cancelled"]`).waitFor({ timeout: 30_000 })
    await expect.poll(() => request.locator('button.cancel').count(), { timeout: 30_000 }).toBe(0)
    // Its question, if it had asked one, is no longer offered.
    await expect.poll(() => page.locator(`form.question[data-key^="${id}/"]`).count(), { timeout: 30_000 }).toBe(0)
    expect(problems).toEqual([])
  })

  it('keeps long task titles and status lines readable, at 1400 px and at phone width', async () => {
    const name = 'Migrate the billing service to the new payments provider and reconcile every invoice since March'
    const step = 'waiting for the reconciliation job of the payments provider to export every invoice (this takes a while)'
    await gateway.publish('task:long-title', { type: 'task.started', payload: { taskId: 'long-title', name, agent: 'planner' } })
    await gateway.publish('task:long-title', { type: 'task.progress', payload: { taskId: 'long-title', progress: 35, step } })
    const row = page.locator('.task[data-id="long-title"]')
    for (const [label, viewport] of [['1400', { width: 1400, height: 1000 }], ['phone', { width: 390, height: 844 }]] as const) {
      await page.setViewportSize(viewport)
      await expect.poll(() => row.locator('.note').textContent(), { timeout: 30_000 }).toBe(step)
      await expect.poll(() => row.locator('.name').textContent(), { timeout: 30_000 }).toBe(name)
      // Nothing cut or hidden: the title and the status line wrap inside the task's card, and
      // the page itself never scrolls sideways.
      await expect
        .poll(
          () =>
            row.evaluate((el) => {
              const card = el.closest('section')!.getBoundingClientRect()
              const inside = (e: Element) => {
                const box = e.getBoundingClientRect()
                return box.left >= card.left - 1 && box.right <= card.right + 1 && (e as HTMLElement).scrollWidth <= (e as HTMLElement).clientWidth + 1
              }
              return {
                name: inside(el.querySelector('.name')!),
                note: inside(el.querySelector('.note')!),
                page: document.documentElement.scrollWidth <= window.innerWidth,
              }
            }),
          { timeout: 30_000 },
        )
        .toEqual({ name: true, note: true, page: true })
      // Full page: the list is re-rendered from the store every frame, so no element is held.
      await page.screenshot({ path: `${artifacts}/dashboard-${label}.png`, fullPage: true })
    }
    await page.setViewportSize({ width: 1280, height: 900 })
    expect(problems).toEqual([])
  })

  // Last: it stops the gateway.
  it('says unmistakably that the gateway is down, and greys out what is no longer live', async () => {
    await page.locator('body[data-conn="live"]').waitFor({ timeout: 30_000 })
    expect(await page.locator('#down').isHidden()).toBe(true)
    simulator.stop()
    await gateway.close({ drainMs: 0 })
    await page.locator('#down').waitFor({ state: 'visible', timeout: 30_000 })
    await page.locator('body[data-conn="down"]').waitFor({ timeout: 30_000 })
    await expect.poll(() => page.locator('#down').textContent(), { timeout: 30_000 }).toMatch(/Nothing below is live since /)
    await expect.poll(() => page.locator('main').evaluate((el) => Number(getComputedStyle(el).opacity)), { timeout: 30_000 }).toBeLessThan(0.6)
    await page.screenshot({ path: `${artifacts}/dashboard-down.png`, fullPage: true })
  })
})

/** Starts a request from the page's form; resolves with its full id. */
async function startFromPage(query: string): Promise<string> {
  const before = await page.locator('#start-status').getAttribute('data-request')
  await page.locator('#start input[name="query"]').fill(query)
  await page.locator('#start button').click()
  await expect.poll(() => page.locator('#start-status').getAttribute('data-request'), { timeout: 30_000 }).not.toBe(before)
  const id = (await page.locator('#start-status').getAttribute('data-request'))!
  await page.locator(`.request[data-id="${id}"]`).waitFor({ timeout: 30_000 })
  return id
}

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
