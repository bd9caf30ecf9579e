import { getKey } from '../records'
import type { TaskStatus, TaskView } from '../state'
import type { Mutable, StateWriter } from '../writer'
import { patch, upsert, type EntityReducer, type Patch } from './entity'

/** `state.tasks`: created by a routing decision or a task event; they only move forward. */
export const tasks = {
  'routing.decision': (w, p) => {
    const prev = getKey(w.state.tasks, p.taskId)
    if (!prev) w.set('tasks', p.taskId, w.adopt<TaskView>({ id: p.taskId, status: 'routed', progress: 0, agent: p.agent.name }))
    else if (!isTerminalTask(prev.status)) {
      // A re-route changes the agent only: it does not move a running task back.
      const task = patch(w, prev, { agent: p.agent.name })
      if (task) w.set('tasks', p.taskId, task)
    }
  },
  'task.started': (w, p) => update(w, p.taskId, { status: 'running', name: p.name, agent: p.agent, description: p.description }),
  'task.progress': (w, p) => update(w, p.taskId, { status: 'running', progress: p.progress, message: p.message, step: p.step, agent: p.agent }),
  'task.completed': (w, p) => update(w, p.taskId, { status: 'completed', progress: 100, result: p.result, durationMs: p.durationMs }),
  'task.failed': (w, p) => update(w, p.taskId, { status: 'failed', error: p.error }),
} satisfies EntityReducer

/** Whether a task has reached a state no later event may change. */
export function isTerminalTask(status: TaskStatus): boolean {
  return status === 'completed' || status === 'failed'
}

function update(w: StateWriter, id: string, fields: Patch<TaskView>): void {
  const prev = getKey(w.state.tasks, id)
  if (prev && isTerminalTask(prev.status)) return
  upsert(w, 'tasks', id, prev, newTask, fields)
}

function newTask(id: string): Mutable<TaskView> {
  return { id, status: 'running', progress: 0 }
}
