import { describe, expect, it } from 'vitest'
import { channelMatches, parseChannel } from 'agentwire/protocol'

describe('channel names', () => {
  it.each([
    ['agent:planner', 'agent:planner'],
    ['AGENT:planner', 'agent:planner'],
    ['request:req-123', 'request:req-123'],
    ['knowledge', 'knowledge'],
    ['Global', 'global'],
    ['agent:*', 'agent:*'],
    ['*', '*'],
    // the application's own channels: any family, several segments, patterns by prefix
    ['deploys:prod', 'deploys:prod'],
    ['Deploys:Prod', 'deploys:Prod'],
    ['audit', 'audit'],
    ['webgui:user:1', 'webgui:user:1'],
    ['audit:eu:*', 'audit:eu:*'],
    ['audit:eu:20*', 'audit:eu:20*'],
    ['deploys*', 'deploys*'],
  ])('canonicalises %s to %s', (input, canonical) => {
    const r = parseChannel(input)
    expect(r).toMatchObject({ ok: true, channel: canonical })
  })

  it.each([
    ['', 'empty'],
    ['agent:', 'no id'],
    ['agent:..', 'only dots'],
    ['agent:%2e%2e', 'percent-encoded'],
    ['agent:plan ner', 'space'],
    ['agent:planner ', 'trailing space'],
    ['agent:рlanner', 'Cyrillic confusable'],
    ['agent', 'built-in family without its id'],
    ['agent:a:b', 'built-in family with two ids'],
    ['knowledge:x', 'built-in singleton with an id'],
    ['1deploys:prod', 'family starting with a digit'],
    ['deploys:a::b', 'empty segment'],
    ['deploys:*:x', 'wildcard not last'],
    ['a:b:c:d:e:f:g:h:i', 'nine segments'],
    ['x'.repeat(33) + ':a', 'family of 33 characters'],
    ['agent:a*b', 'inner wildcard'],
    ['agent:' + 'x'.repeat(10_000), '10 KB name'],
  ])('rejects %j (%s) with a reason', (input) => {
    const r = parseChannel(input)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.reason.length).toBeGreaterThan(0)
  })

  it('rejects non-strings with the type it got', () => {
    expect(parseChannel(42)).toEqual({ ok: false, reason: 'channel must be a string, got number' })
  })

  it('matches trailing-wildcard patterns by prefix only', () => {
    expect(channelMatches('agent:*', 'agent:planner')).toBe(true)
    expect(channelMatches('agent:pl*', 'agent:planner')).toBe(true)
    expect(channelMatches('agent:*', 'task:1')).toBe(false)
    expect(channelMatches('*', 'task:1')).toBe(true)
    expect(channelMatches('agent:planner', 'agent:planner2')).toBe(false)
  })
})
