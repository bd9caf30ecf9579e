import { describe, expect, it } from 'vitest'
import { BUDGETS, CEILINGS, TARGETS, byPart, measure } from '../bench/sizes.mjs'

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

describe('where the bytes of createClient go', () => {
  it('gives each module its gzip cost, through the source map, and the parts add up to about the whole', async () => {
    const root = TARGETS.find((t) => t.name === 'agentwire')!
    const withModules = await measure(root, { metafile: true })
    // The source map changes nothing in what is measured.
    expect(withModules.gzip).toBe((await measure(root)).gzip)
    const modules = withModules.modules!
    const costed = modules.filter((m) => m.bytes > 0)
    expect(costed.length).toBeGreaterThan(20)
    for (const m of costed) expect(m.gzip, m.module).toBeGreaterThan(0)
    const parts = byPart(modules)
    expect(parts.map((p) => p.part).sort()).toEqual(['connection', 'delivery', 'steering', 'store', 'validation'])
    // gzip shares its dictionary across modules: marginal costs sum to a little less than the whole.
    const sum = parts.reduce((a, p) => a + p.gzip, 0)
    expect(sum).toBeGreaterThan(0.8 * withModules.gzip)
    expect(sum).toBeLessThanOrEqual(withModules.gzip)
  })
})
