import { redisBroker } from 'agentwire/redis'
import { patternAuthorizationSuite } from '../server/support/pattern-authorization'
import { deletePrefix, REDIS_URL, uniquePrefix } from './helpers'

patternAuthorizationSuite('Redis broker', async () => {
  const prefix = uniquePrefix('patauth')
  const broker = redisBroker({ url: REDIS_URL, prefix, onError: () => undefined })
  return {
    broker,
    async cleanup() {
      await broker.close()
      await deletePrefix(prefix)
    },
  }
})
