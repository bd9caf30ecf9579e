import { memoryBroker } from 'agentwire/server'
import { patternBirthSuite } from './support/pattern-birth'

patternBirthSuite('memory broker', async ({ maxAgeMs, now }) => {
  const broker = memoryBroker({ retention: { maxAgeMs }, clock: { now } })
  return { broker, cleanup: () => broker.close() }
})
