import { afterAll, beforeAll, expect, it } from 'vitest'
import { startScenario, type Scenario } from './dashboard-scenario'

/** examples/vue-dashboard, built with Vite, in headless Chromium against the gateway and the simulated fleet. */
let scenario: Scenario

beforeAll(async () => {
  scenario = await startScenario('vue-dashboard')
}, 180_000)
afterAll(() => scenario?.close())

it('shows the fleet, rides out a gateway restart with a new epoch, and ends equal to the server', async () => {
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
}, 300_000)
