import { patch, type EntityReducer } from './entity'

/** `state.knowledge`: `*.added` count one each; `knowledge.updated` sets the counts it carries. */
export const knowledge = {
  'knowledge.node.added': (w) => {
    const next = w.own(w.state.knowledge)
    next.nodes += 1
    w.put('knowledge', next)
  },
  'knowledge.edge.added': (w) => {
    const next = w.own(w.state.knowledge)
    next.edges += 1
    w.put('knowledge', next)
  },
  'knowledge.updated': (w, p) => {
    const next = patch(w, w.state.knowledge, { nodes: p.nodes, edges: p.edges })
    if (next) w.put('knowledge', next)
  },
} satisfies EntityReducer
