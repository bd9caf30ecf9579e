import { deepEqual } from '../equal'
import { getKey } from '../records'
import type { MetricsView } from '../state'
import type { Mutable } from '../writer'
import type { EntityReducer } from './entity'

/** `state.metrics`: keyed by `scope`, or `scope:name` when named, and replaced whole. */
export const metrics = {
  'metrics.snapshot': (w, p) => {
    const key = p.name === undefined ? p.scope : `${p.scope}:${p.name}`
    const next: Mutable<MetricsView> = { scope: p.scope, values: p.values }
    if (p.name !== undefined) next.name = p.name
    if (p.timestamp !== undefined) next.timestamp = p.timestamp
    const prev = getKey(w.state.metrics, key)
    if (prev && deepEqual(prev, next)) return
    w.set('metrics', key, next)
  },
} satisfies EntityReducer
