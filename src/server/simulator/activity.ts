import type { Fleet } from './fleet'
import type { Stage } from './stage'

/** The chats and collections the activity refers to. */
const CHATS = ['general', 'ops']
const COLLECTIONS = ['docs', 'runbooks']

/** Background activity: chat messages, a collection that grows, and a knowledge graph being built. */
export interface Activity {
  /** Creates the chats and collections (the opening scene). */
  open(started: number): void
  /** One step: perhaps a chat message or a collection update, perhaps a knowledge node or edge. */
  tick(now: number): void
}

export function createActivity(stage: Stage, fleet: Fleet): Activity {
  const { publish, pick, between, random, counters } = stage
  return {
    open(started) {
      for (const chatId of CHATS) publish(`chat:${chatId}`, 'chat.created', { chatId, chat: { title: `#${chatId}` }, timestamp: started })
      for (const collectionId of COLLECTIONS) publish(`collection:${collectionId}`, 'collection.created', { collectionId, metadata: { documents: 10 }, timestamp: started })
    },
    tick(now) {
      const roll = random()
      if (roll < 0.12) {
        const chatId = pick(CHATS)
        publish(`chat:${chatId}`, 'chat.message.created', { chatId, messageId: `m-${stage.run}-${++counters.messages}`, userId: pick([...fleet.agents.keys()]), timestamp: now })
      } else if (roll < 0.14) {
        publish('collection:runbooks', 'collection.updated', { collectionId: 'runbooks', metadata: { documents: 10 + counters.tasks }, timestamp: now })
      }
      const k = random()
      if (k < 0.15 || counters.nodes < 2) {
        const nodeId = `n-${stage.run}-${++counters.nodes}`
        publish('knowledge', 'knowledge.node.added', { nodeId, label: pick(['retry policy', 'staging cluster', 'billing API', 'incident 42', 'rate limit']), kind: pick(['concept', 'service', 'document']) })
      } else if (k < 0.28) {
        const source = `n-${stage.run}-${between(1, counters.nodes)}`
        const target = `n-${stage.run}-${between(1, counters.nodes)}`
        if (source !== target) publish('knowledge', 'knowledge.edge.added', { edgeId: `e-${stage.run}-${++counters.edges}`, source, target, relation: pick(['depends_on', 'mentions', 'owned_by']) })
      }
    },
  }
}
