import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { createGateway, type Gateway } from 'agentwire/server'
import { buildBrowserModule } from '../cli/build'

/**
 * Tabs share one connection (`createClient({ url, ...share() })`), in a real headless Chromium:
 * several pages of one context on one origin, the gateway counting WebSocket upgrades. The
 * leader's page is closed in the middle of a stream; every other tab's handlers must see
 * every event once and in order.
 */

let gateway: Gateway
let server: Server
let browser: Browser
let context: BrowserContext
let origin = ''
/** WebSocket sockets the gateway's server upgraded, and those still open. */
let upgrades = 0
let openSockets = 0
const problems: string[] = []

const PAGE = (url: string) => `<!doctype html><meta charset="utf-8"><title>tab</title>
<script type="module">
import { createClient, share } from '/share.js'
const seqs = [], opens = []
let leader = false
const client = createClient({
  url: ${JSON.stringify(url)},
  ...share({ onLeader: () => { leader = true } }),
  reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
})
client.on('state', (s) => { if (s.current === 'open') opens.push(Date.now()) })
client.on('agent.status', (event, context) => { if (context.channel === 'agent:a') seqs.push(context.seq) })
const sub = client.subscribe('agent:a')
let subscribed = false
sub.ready.then(() => { subscribed = true })
window.tab = { seqs, opens, leader: () => leader, state: () => client.state, subscribed: () => subscribed, load: () => client.getSnapshot().agents.a?.load }
</script>`

beforeAll(async () => {
  const script = readFileSync(await buildBrowserModule('share', "export { createClient, share } from 'agentwire'"), 'utf8')
  server = createServer((request, response) => {
    if (request.url === '/share.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' })
      return response.end(script)
    }
    response.writeHead(200, { 'content-type': 'text/html' })
    response.end(PAGE(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`))
  })
  server.on('upgrade', (_request, socket) => {
    upgrades++
    openSockets++
    socket.on('close', () => openSockets--)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  gateway = createGateway({ server })
  await gateway.ready
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  })
  context = await browser.newContext()
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await gateway?.close({ drainMs: 0 })
  await new Promise((resolve) => server?.close(resolve))
})

async function openTab(): Promise<Page> {
  const page = await context.newPage()
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text())
  })
  page.on('pageerror', (error) => problems.push(error.message))
  await page.goto(`${origin}/`)
  return page
}

const read = <T>(page: Page, fn: string) => page.evaluate(fn) as Promise<T>

describe('tabs share one connection', () => {
  it('three tabs hold one WebSocket; the leader closes mid-stream and the others see every event once, in order', async () => {
    const first = await openTab()
    await expect.poll(() => read<boolean>(first, 'window.tab.leader()'), { timeout: 20_000 }).toBe(true)
    const others = [await openTab(), await openTab()]
    const tabs = [first, ...others]
    for (const tab of tabs) await expect.poll(() => read<boolean>(tab, 'window.tab.subscribed()'), { timeout: 20_000 }).toBe(true)
    // One socket at the gateway, three logical connections on it.
    await expect.poll(() => openSockets, { timeout: 10_000 }).toBe(1)
    expect(upgrades).toBe(1)
    expect(gateway.stats().connections).toBe(3)
    expect(await read<boolean>(others[0]!, 'window.tab.leader()')).toBe(false)

    const total = 300
    let closedAt = 0
    for (let i = 1; i <= total; i++) {
      await gateway.publish('agent:a', { type: 'agent.status', payload: { name: 'a', status: 'busy', load: i } })
      if (i === 100) {
        closedAt = Date.now()
        void first.close()
      }
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    const expected = Array.from({ length: total }, (_, k) => k + 1)
    for (const tab of others) {
      await expect.poll(() => read<number[]>(tab, 'window.tab.seqs'), { timeout: 20_000 }).toEqual(expected)
      await expect.poll(() => read<number>(tab, 'window.tab.load()'), { timeout: 5_000 }).toBe(total)
    }
    // One of the others took over: one socket again.
    await expect.poll(async () => (await Promise.all(others.map((tab) => read<boolean>(tab, 'window.tab.leader()')))).filter(Boolean).length, { timeout: 10_000 }).toBe(1)
    await expect.poll(() => openSockets, { timeout: 10_000 }).toBe(1)
    expect(upgrades).toBe(2)
    await expect.poll(() => gateway.stats().connections, { timeout: 10_000 }).toBe(2)
    // Hand-over: from the leader's close to every other tab open again through the new leader.
    const reopened = await Promise.all(others.map((tab) => read<number[]>(tab, 'window.tab.opens')))
    const handOverMs = Math.max(...reopened.map((opens) => opens.find((t) => t >= closedAt)! - closedAt))
    console.log(`share: 3 tabs, 1 socket (2 after the hand-over in total), hand-over ${handOverMs} ms`)
    expect(handOverMs).toBeLessThan(5_000)
    // A tab that goes ends its logical connection at the gateway (the leader watches its lock).
    const follower = (await read<boolean>(others[0]!, 'window.tab.leader()')) ? others[1]! : others[0]!
    await follower.close()
    await expect.poll(() => gateway.stats().connections, { timeout: 10_000 }).toBe(1)
    expect(openSockets).toBe(1)
    expect(problems).toEqual([])
    for (const tab of others) if (tab !== follower) await tab.close()
  }, 120_000)
})
