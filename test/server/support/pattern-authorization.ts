import { describe, expect, it } from 'vitest'
import type { Broker, Principal } from 'agentwire/server'
import { createRegistry } from './registry'
import { command, connect, open, subscribe, type Frame, type RawClient } from './client'
import { startGateway, status } from './gateway'

/**
 * Hole 4 of issue 17: `authorize` answered for a pattern string must not let through the
 * concrete channels it would refuse. Each scenario publishes on channels a policy refuses and
 * on channels it allows, under patterns at every level, and checks what reached the socket,
 * live and on replay. Shared by the memory broker (test/server) and Redis (test/redis).
 */
export function patternAuthorizationSuite(brokerName: string, makeBroker?: () => Promise<{ broker: Broker; cleanup(): Promise<void> }>): void {
  const registry = createRegistry()
  const byToken = (token: string | undefined) => (token ? { id: token } : null)

  type Policy = (principal: Principal, channel: string) => boolean
  /** Every question `authorize` was asked, as `principal channel action`. */
  const asked: string[] = []

  async function gatewayWith(policy: Policy) {
    const extra = makeBroker ? await makeBroker() : undefined
    if (extra) registry.track(() => extra.cleanup())
    asked.length = 0
    return startGateway(registry, {
      authenticate: byToken,
      authorize: (principal, channel, action) => {
        asked.push(`${principal.id} ${channel} ${action}`)
        return policy(principal, channel)
      },
      ...(extra ? { broker: extra.broker } : {}),
    })
  }

  const eventsOn = (client: RawClient, channel: string) => client.frames.filter((f) => f.type === 'event' && f.channel === channel).map((f) => f.seq as number)
  const statesOn = (client: RawClient, channel: string) => client.frames.filter((f) => f.type === 'state' && f.channel === channel)
  const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1)
  const eventOn = (channel: string, seq: number) => (f: Frame) => f.type === 'event' && f.channel === channel && f.seq === seq

  // The policy: nobody but bob may follow `user:bob`.
  const denyBob: Policy = (principal, channel) => channel !== 'user:bob' || principal.id === 'bob'

  describe(`patterns and authorization (${brokerName})`, () => {
    it.each(['*', 'user:*', 'user:b*', 'user:bo*', 'user:bob*'])(
      'deny-list, live: %s delivers every event of an allowed channel and none of a refused one',
      async (pattern) => {
        const gateway = await gatewayWith(denyBob)
        const alice = await open(gateway.url, registry, { token: 'alice' })
        const bob = await open(gateway.url, registry, { token: 'bob' })
        expect((await subscribe(alice, [pattern])).result[0]).toMatchObject({ ok: true })
        expect((await subscribe(bob, [pattern])).result[0]).toMatchObject({ ok: true })
        for (let i = 1; i <= 100; i++) {
          await gateway.publish('user:bob', status('bob', i))
          await gateway.publish('user:bobby', status('bobby', i))
        }
        await alice.waitForFrame(eventOn('user:bobby', 100))
        await bob.waitForFrame(eventOn('user:bob', 100))
        expect(eventsOn(alice, 'user:bob')).toEqual([])
        expect(statesOn(alice, 'user:bob')).toEqual([])
        expect(eventsOn(alice, 'user:bobby')).toEqual(upTo(100))
        // The refusal is bob's channel for alice only: bob's own pattern sees it, all of it.
        expect(eventsOn(bob, 'user:bob')).toEqual(upTo(100))
        expect(asked).toContain(`alice user:bob subscribe`)
      },
    )

    it.each([
      ['*', ['user:alice', 'global']],
      ['user:*', ['user:alice']],
      ['user:a*', ['user:alice']],
      ['user:ali*', ['user:alice']],
    ])('allow-list, live: %s delivers only the allowed channels it matches (%j)', async (pattern, expected) => {
      const allowed = new Set(['user:alice', 'global'])
      // Patterns are let through as such; each concrete channel must be on the list.
      const gateway = await gatewayWith((_, channel) => channel.endsWith('*') || allowed.has(channel))
      const alice = await open(gateway.url, registry, { token: 'alice' })
      expect((await subscribe(alice, [pattern])).result[0]).toMatchObject({ ok: true })
      const channels = ['user:amy', 'user:alice', 'user:bob', 'global', 'task:t1', 'user:alicia']
      for (let i = 1; i <= 20; i++) for (const channel of channels) await gateway.publish(channel, status(channel, i))
      await alice.waitForFrame(eventOn('user:alice', 20))
      if (expected.includes('global')) await alice.waitForFrame(eventOn('global', 20))
      const got = Object.fromEntries(channels.map((c) => [c, eventsOn(alice, c)]))
      expect(got).toEqual(Object.fromEntries(channels.map((c) => [c, expected.includes(c) ? upTo(20) : []])))
    })

    it('replay and snapshot: a pattern subscribe and a resume carry no state or event of a refused channel', async () => {
      const gateway = await gatewayWith(denyBob)
      for (let i = 1; i <= 10; i++) {
        await gateway.publish('user:bob', status('bob', i))
        await gateway.publish('user:bobby', status('bobby', i))
      }
      const alice = await open(gateway.url, registry, { token: 'alice' })
      expect((await subscribe(alice, ['user:*'])).result[0]).toMatchObject({ ok: true })
      const state = await alice.waitForFrame((f) => f.type === 'state' && f.channel === 'user:bobby')
      expect(statesOn(alice, 'user:bob')).toEqual([])
      alice.close()

      for (let i = 11; i <= 30; i++) {
        await gateway.publish('user:bob', status('bob', i))
        await gateway.publish('user:bobby', status('bobby', i))
      }
      // A resume naming bob's channel (a forged or stale position) replays nothing of it.
      const again = await connect(gateway.url, registry)
      const welcome = await again.hello({
        token: 'alice',
        resume: [
          {
            channel: 'user:*',
            resume: [
              { channel: 'user:bobby', epoch: state.epoch, seq: state.seq },
              { channel: 'user:bob', epoch: state.epoch, seq: 0 },
            ],
          },
        ],
      })
      expect(welcome.subscriptions).toEqual([expect.objectContaining({ ok: true, channel: 'user:*' })])
      await again.waitForFrame(eventOn('user:bobby', 30))
      for (let i = 31; i <= 40; i++) {
        await gateway.publish('user:bob', status('bob', i))
        await gateway.publish('user:bobby', status('bobby', i))
      }
      await again.waitForFrame(eventOn('user:bobby', 40))
      expect(eventsOn(again, 'user:bob')).toEqual([])
      expect(statesOn(again, 'user:bob')).toEqual([])
      expect(eventsOn(again, 'user:bobby')).toEqual(upTo(40).slice(10))
      expect(asked).toContain('alice user:bob resume')
    })

    it('asks once per channel and connection, again on resume and after a token renewal', async () => {
      const grants = new Set(['alice>user:carol'])
      const gateway = await gatewayWith((principal, channel) => channel.endsWith('*') || channel === `user:${principal.id}` || grants.has(`${principal.id}>${channel}`))
      const alice = await open(gateway.url, registry, { token: 'alice' })
      await subscribe(alice, ['user:*'])
      for (let i = 1; i <= 50; i++) await gateway.publish('user:carol', status('carol', i))
      await alice.waitForFrame(eventOn('user:carol', 50))
      expect(asked.filter((q) => q.includes('user:carol'))).toEqual(['alice user:carol subscribe'])

      // The grant is withdrawn; a renewed token is the moment it is asked again.
      grants.delete('alice>user:carol')
      expect(await command(alice, { type: 'auth', token: 'alice' })).toMatchObject({ ok: true })
      for (let i = 51; i <= 60; i++) await gateway.publish('user:carol', status('carol', i))
      await gateway.publish('user:alice', status('alice', 1))
      await alice.waitForFrame(eventOn('user:alice', 1))
      expect(eventsOn(alice, 'user:carol')).toEqual(upTo(50))
      expect(asked.filter((q) => q.includes('user:carol'))).toEqual(['alice user:carol subscribe', 'alice user:carol subscribe'])
      alice.close()

      // Granted again; a resume on a new connection asks again, as `resume`, and replays.
      grants.add('alice>user:carol')
      const again = await connect(gateway.url, registry)
      await again.hello({ token: 'alice', resume: [{ channel: 'user:*', resume: [{ channel: 'user:carol', epoch: (await gateway.publish('user:carol', status('carol', 61))).epoch, seq: 50 }] }] })
      await again.waitForFrame(eventOn('user:carol', 61))
      expect(eventsOn(again, 'user:carol')).toEqual(upTo(61).slice(50))
      expect(asked.filter((q) => q.includes('user:carol')).slice(2)).toEqual(['alice user:carol resume'])
    })
  })
}
