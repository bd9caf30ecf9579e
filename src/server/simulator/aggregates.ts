import type { Fleet } from './fleet'
import type { Stage } from './stage'

export interface AggregatesOptions {
  metricsEveryMs: number
  dashboardEveryMs: number
  started: number
}

/**
 * The figures derived from the rest: `metrics.snapshot` and `knowledge.updated` every
 * `metricsEveryMs`, and at once on a tick that changed a count it reports (a task started or
 * ended, an agent went offline), so the metrics never lag the tasks a dashboard shows next to
 * them; `dashboard.update` (and now and then a summary notification) every `dashboardEveryMs`.
 */
export interface Aggregates {
  tick(now: number): void
}

export function createAggregates(stage: Stage, fleet: Fleet, options: AggregatesOptions): Aggregates {
  const { publish, random, counters } = stage
  let lastMetrics = options.started
  let lastDashboard = options.started
  let publishedAtLastMetrics = 0
  // The rate is measured over the whole period; a snapshot between periods repeats it.
  let eventsPerSecond = 0
  let lastCounts = ''

  return {
    tick(now) {
      const all = [...fleet.agents.values()]
      const agentsOnline = all.filter((a) => a.status !== 'offline').length
      const counts = `${fleet.runningTasks}/${counters.completed}/${counters.failed}/${agentsOnline}`
      const due = now - lastMetrics >= options.metricsEveryMs
      if (due || counts !== lastCounts) {
        lastCounts = counts
        const load = all.reduce((sum, a) => sum + a.running / (a.spec.capacity ?? 2), 0) / Math.max(1, all.length)
        if (due) {
          eventsPerSecond = Math.round((((counters.published - publishedAtLastMetrics) * 1000) / Math.max(1, now - lastMetrics)) * 10) / 10
          publishedAtLastMetrics = counters.published
          lastMetrics = now
        }
        publish('metrics', 'metrics.snapshot', {
          scope: 'system',
          values: {
            activeTasks: fleet.runningTasks,
            completedTasks: counters.completed,
            failedTasks: counters.failed,
            agentsOnline,
            avgLoad: Math.round(load * 100) / 100,
            eventsPerSecond,
          },
          timestamp: now,
        })
        if (due) publish('knowledge', 'knowledge.updated', { nodes: counters.nodes, edges: counters.edges })
      }
      if (now - lastDashboard >= options.dashboardEveryMs) {
        lastDashboard = now
        const byStatus = { available: 0, busy: 0, offline: 0 }
        for (const a of fleet.agents.values()) byStatus[a.status]++
        publish('global', 'dashboard.update', {
          agents: byStatus,
          tasks: { running: fleet.runningTasks, completed: counters.completed, failed: counters.failed },
          metrics: { requests: counters.requests, knowledgeNodes: counters.nodes },
          timestamp: now,
        })
        if (random() < 0.3) publish('global', 'system.notification', { level: 'info', message: `${counters.completed} ${counters.completed === 1 ? 'task' : 'tasks'} completed so far`, timestamp: now })
      }
    },
  }
}
