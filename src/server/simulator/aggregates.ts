import type { Fleet } from './fleet'
import type { Stage } from './stage'

export interface AggregatesOptions {
  metricsEveryMs: number
  dashboardEveryMs: number
  started: number
}

/**
 * The figures derived from the rest: `metrics.snapshot` and `knowledge.updated` every
 * `metricsEveryMs`, `dashboard.update` (and now and then a summary notification) every
 * `dashboardEveryMs`.
 */
export interface Aggregates {
  tick(now: number): void
}

export function createAggregates(stage: Stage, fleet: Fleet, options: AggregatesOptions): Aggregates {
  const { publish, random, counters } = stage
  let lastMetrics = options.started
  let lastDashboard = options.started
  let publishedAtLastMetrics = 0

  return {
    tick(now) {
      if (now - lastMetrics >= options.metricsEveryMs) {
        const all = [...fleet.agents.values()]
        const load = all.reduce((sum, a) => sum + a.running / (a.spec.capacity ?? 2), 0) / Math.max(1, all.length)
        const perSecond = ((counters.published - publishedAtLastMetrics) * 1000) / Math.max(1, now - lastMetrics)
        publishedAtLastMetrics = counters.published
        lastMetrics = now
        publish('metrics', 'metrics.snapshot', {
          scope: 'system',
          values: {
            activeTasks: fleet.runningTasks,
            completedTasks: counters.completed,
            failedTasks: counters.failed,
            agentsOnline: all.filter((a) => a.status !== 'offline').length,
            avgLoad: Math.round(load * 100) / 100,
            eventsPerSecond: Math.round(perSecond * 10) / 10,
          },
          timestamp: now,
        })
        publish('knowledge', 'knowledge.updated', { nodes: counters.nodes, edges: counters.edges })
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
        if (random() < 0.3) publish('global', 'system.notification', { level: 'info', message: `${counters.completed} tasks completed so far`, timestamp: now })
      }
    },
  }
}
