import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromium, type Browser } from 'playwright-core'
import { createGateway, type CommandFrame, type Gateway } from 'agentwire/server'
import { buildBrowserModule } from '../cli/build'

/**
 * Steering survives a reload, in a real headless Chromium with its own sessionStorage: a page
 * answers an agent's question while it has no connection, is reloaded, and the reloaded
 * page's client sends the answer; the gateway's onCommand sees it once.
 */

let gateway: Gateway
let server: Server
let browser: Browser
let origin = ''
const seen: CommandFrame[] = []
const problems: string[] = []

beforeAll(async () => {
  const outfile = await buildBrowserModule('reload', "export { createClient } from 'agentwire'\nexport { recovery } from 'agentwire/recovery'")
  const script = readFileSync(outfile, 'utf8')
  server = createServer((request, response) => {
    if (request.url === '/reload.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' })
      return response.end(script)
    }
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`
    const offline = request.url?.includes('offline') === true
    response.writeHead(200, { 'content-type': 'text/html' })
    response.end(`<!doctype html><meta charset="utf-8"><title>reload</title>
<script type="module">
import { createClient, recovery } from '/reload.js'
const client = createClient({ url: ${JSON.stringify(url)}, token: 'alice', ...recovery({ storage: sessionStorage, user: 'alice' }), autoConnect: ${!offline} })
window.page = { client, outcome: undefined }
if (${offline}) client.feedback('r-1', 'q-1', { choice: 'ship it' }).catch(() => {})
else for (const c of client.restoredCommands()) c.result.then(() => (window.page.outcome = 'sent ' + c.id), (e) => (window.page.outcome = e.code))
</script>`)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  gateway = createGateway({
    server,
    authenticate: (token) => (token ? { id: token } : null),
    onCommand: (command, context) => {
      seen.push(command)
      return context.defaultHandler()
    },
  })
  await gateway.ready
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  })
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await gateway?.close({ drainMs: 0 })
  await new Promise((resolve) => server?.close(resolve))
})

describe('steering across a reload, in Chromium', () => {
  it('an answer given offline is sent once by the reloaded page, with its id', async () => {
    const page = await browser.newPage()
    page.on('pageerror', (error) => problems.push(error.message))
    await page.goto(`${origin}/?offline`)
    const stored = async () => page.evaluate(() => Object.keys(sessionStorage).filter((k) => k.endsWith(':steering')).map((k) => sessionStorage.getItem(k)))
    await expect.poll(async () => (await stored()).length, { timeout: 10_000 }).toBe(1)
    const id = (JSON.parse((await stored())[0]!) as { commands: { frame: { id: string } }[] }).commands[0]!.frame.id

    await page.goto(`${origin}/`) // the same tab, the same sessionStorage: a reload
    await expect.poll(() => page.evaluate(() => (window as unknown as { page: { outcome?: string } }).page.outcome), { timeout: 10_000 }).toBe(`sent ${id}`)
    await expect.poll(async () => (await stored()).length, { timeout: 10_000 }).toBe(0)
    // And once more: a second reload has nothing left to send.
    await page.reload()
    await expect.poll(() => page.evaluate(() => (window as unknown as { page: { client: { state: string } } }).page.client.state), { timeout: 10_000 }).toBe('open')
    expect(seen.filter((c) => c.type === 'feedback')).toEqual([{ type: 'feedback', id, requestId: 'r-1', questionId: 'q-1', answer: { choice: 'ship it' } }])
    expect(problems).toEqual([])
    await page.close()
  }, 60_000)
})
