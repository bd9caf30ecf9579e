import type { DashboardView } from '../state'
import { create, patch, type EntityReducer } from './entity'

/** `state.dashboard`: `dashboard.update` merges field by field; a field it lacks keeps its value. */
export const dashboard = {
  'dashboard.update': (w, p) => {
    const prev = w.state.dashboard
    const fields = { agents: p.agents, tasks: p.tasks, metrics: p.metrics, timestamp: p.timestamp }
    const next = prev ? patch(w, prev, fields) : create<DashboardView>(w, {}, fields)
    if (next) w.put('dashboard', next)
  },
} satisfies EntityReducer
