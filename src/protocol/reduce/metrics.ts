import { deepEqual } from '../equal'
import { getKey } from '../records'
import type { MetricsView } from '../state'
import type { Mutable } from '../writer'
import type { EntityReducer } from './entity'

/** `state.metrics`: keyed by `scope`, or `scope:name` when named, and replaced whole. */
export const metrics = {
  'metrics.snapshot': (w, p) => {
    const key = p.name === undefined ? p.scope : `${p.scope}:${p.name}`
    // A named snapshot as one literal: a field added later would take a second allocation.
    const next: Mutable<MetricsView> = p.name === undefined ? { scope: p.scope, values: p.values } : { scope: p.scope, values: p.values, name: p.name }
    if (p.timestamp !== undefined) next.timestamp = p.timestamp
    const prev = getKey(w.state.metrics, key)
    if (prev && deepEqual(prev, next)) return
    w.set('metrics', key, next)
  },
} satisfies EntityReducer
