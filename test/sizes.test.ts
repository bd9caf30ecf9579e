import { describe, expect, it } from 'vitest'
import { BUDGETS, CEILINGS, TARGETS, measure } from '../bench/sizes.mjs'

// Bundle size is deterministic (esbuild, minified, gzip level 9), so the limits are tests.
describe('browser bundle sizes (min+gzip)', () => {
  for (const [name, ceiling] of Object.entries(CEILINGS)) {
    const budget = BUDGETS[name]!
    const label = ceiling === budget ? `its budget of ${(budget / 1024).toFixed(1)} KB` : `${(ceiling / 1024).toFixed(1)} KB (budget ${(budget / 1024).toFixed(1)} KB, not met yet)`
    it(`${name} stays within ${label}`, async () => {
      const target = TARGETS.find((t) => t.name === name)
      expect(target, `no bundle target named ${name}`).toBeDefined()
      const size = await measure(target!)
      expect(size.gzip).toBeGreaterThan(500)
      expect(size.gzip, `${name}: ${size.gzip} bytes gzip, limit ${ceiling}`).toBeLessThanOrEqual(ceiling)
    })
  }
})
