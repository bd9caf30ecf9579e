import * as z from 'zod'
import { createClient } from 'agentwire'
import { defineCommands, defineEvents, type Registered } from 'agentwire/protocol'

const events = defineEvents({ 'deploy.finished': z.object({ service: z.string(), ok: z.boolean() }) })
const commands = defineCommands({ pause: z.object({ agent: z.string() }) })

declare module 'agentwire' {
  interface Register {
    events: typeof events
    commands: typeof commands
  }
}

type Check<T extends true> = T
type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false
export type _registered = Check<Equal<Registered['events'], typeof events>>

const client = createClient({ url: 'ws://x' })
client.on('deploy.finished', (e) => {
  const s: string = e.payload.service
  void s
})
void client.command('pause', { agent: 'a' })
