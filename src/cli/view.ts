import pc from 'picocolors'
import type { AgentView, AgentwireState, RequestView, TaskView } from 'agentwire/protocol'

/**
 * The terminal view of `watch` and `demo`: a pure function of the store's state, so it is
 * tested without a terminal, and redrawn in place by whoever calls it.
 */

export interface ViewOptions {
  /** ANSI colours. @default false */
  color?: boolean
  /** The first line's label, e.g. the URL watched. @default 'agentwire' */
  title?: string
  /** Dim lines under the title, e.g. the URLs the demo serves. @default none */
  header?: readonly string[]
  /** Finished tasks shown under the running ones. @default 5 */
  finishedTasks?: number
  /** Requests shown, newest first. @default 3 */
  requests?: number
}

const MIN_WIDTH = 48

export function renderView(state: AgentwireState, connection: string, width: number, options: ViewOptions = {}): string {
  const c = pc.createColors(options.color ?? false)
  const w = Math.max(MIN_WIDTH, Math.floor(width) || 80)
  const lines: string[] = []
  const heading = (label: string, detail = '') => lines.push(c.bold(label) + (detail ? c.dim(`  ${detail}`) : ''))

  // ── header: what is watched and whether the link is up
  const indicator = connectionBadge(connection, c)
  const title = fit(options.title ?? 'agentwire', w - connection.length - 4)
  lines.push(`${c.bold(title)}  ${indicator}`)
  for (const line of options.header ?? []) lines.push(c.dim(line))
  lines.push(c.dim('─'.repeat(w)))

  // ── agents: status and load
  const agents = Object.values(state.agents)
  heading(`AGENTS (${agents.length})`, countBy(agents, (a) => a.status ?? 'unknown'))
  const nameW = Math.min(16, Math.max(6, ...agents.map((a) => a.name.length)))
  const barW = Math.max(8, Math.min(24, w - nameW - 24))
  if (agents.length === 0) lines.push(c.dim('  no agents yet'))
  for (const agent of agents) {
    const load = clamp01(agent.load ?? 0)
    const status = agentStatus(agent, c)
    lines.push(`  ${fit(agent.name, nameW)}  ${status}  ${bar(load, barW, c, agent.status === 'offline')} ${pct(load * 100)}`)
  }
  lines.push('')

  // ── tasks: running first, then the newest finished ones
  const tasks = Object.values(state.tasks)
  const live = tasks.filter((t) => t.status === 'running' || t.status === 'routed').reverse()
  const done = tasks.filter((t) => t.status === 'completed' || t.status === 'failed').reverse().slice(0, options.finishedTasks ?? 5)
  heading('TASKS', countBy(tasks, (t) => t.status))
  if (tasks.length === 0) lines.push(c.dim('  no tasks yet'))
  const idW = Math.min(12, Math.max(6, ...[...live, ...done].map((t) => t.id.length)))
  const taskNameW = Math.max(8, Math.min(26, w - idW - barW - 34))
  for (const task of [...live, ...done]) lines.push(taskLine(task, idW, taskNameW, barW, c))
  lines.push('')

  // ── requests: steps and open questions
  const requests = Object.values(state.requests).reverse().slice(0, options.requests ?? 3)
  // A question is open while its request still runs: a cancelled, failed or finished request
  // will never take the answer.
  const open = Object.values(state.requests).filter(isLive).flatMap((r) => r.questions.filter((q) => !q.answered))
  heading('REQUESTS', open.length ? `${open.length} open question${open.length === 1 ? '' : 's'}` : '')
  if (requests.length === 0) lines.push(c.dim('  no requests yet'))
  for (const request of requests) lines.push(...requestLines(request, w, c))
  lines.push('')

  // ── knowledge and the latest metrics
  lines.push(`${c.bold('KNOWLEDGE')}  ${state.knowledge.nodes} nodes · ${state.knowledge.edges} edges`)
  const metrics = state.metrics['system'] ?? Object.values(state.metrics).at(-1)
  if (metrics) {
    const values = Object.entries(metrics.values).map(([k, v]) => `${k} ${formatNumber(v)}`).join(' · ')
    lines.push(`${c.bold('METRICS')}  ${values}`)
  }
  const note = state.notifications.at(-1)
  if (note) lines.push(`${c.bold('NOTICE')}  ${note.level}: ${note.title ? `${note.title} — ` : ''}${note.message}`)
  return lines.map((line) => clip(line, w)).join('\n')
}

type Colors = ReturnType<typeof pc.createColors>

function connectionBadge(connection: string, c: Colors): string {
  switch (connection) {
    case 'open':
      return c.green(`● ${connection}`)
    case 'connecting':
    case 'reconnecting':
      return c.yellow(`◌ ${connection}`)
    case 'closed':
    case 'unauthorized':
      return c.red(`✕ ${connection}`)
    default:
      return c.dim(`○ ${connection}`)
  }
}

function agentStatus(agent: AgentView, c: Colors): string {
  const label = fit(agent.status ?? 'unknown', 9)
  if (agent.status === 'available') return c.green(label)
  if (agent.status === 'busy') return c.yellow(label)
  if (agent.status === 'offline') return c.red(label)
  return c.dim(label)
}

function taskLine(task: TaskView, idW: number, nameW: number, barW: number, c: Colors): string {
  const status =
    task.status === 'completed' ? c.green(fit('done', 7)) : task.status === 'failed' ? c.red(fit('failed', 7)) : c.cyan(fit(task.status, 7))
  const note = task.status === 'failed' ? (task.error?.message ?? '') : task.status === 'completed' ? '' : (task.step ?? task.message ?? '')
  const done = task.status === 'completed' || task.status === 'failed'
  return `  ${fit(task.id, idW)}  ${fit(task.name ?? '', nameW)}  ${fit(task.agent ?? '—', 10)}  ${bar(task.progress / 100, barW, c, done)} ${pct(task.progress)}  ${status} ${c.dim(note)}`.trimEnd()
}

function requestLines(request: RequestView, w: number, c: Colors): string[] {
  const colour = request.status === 'completed' ? c.green : request.status === 'waiting' ? c.yellow : request.status === 'running' ? c.cyan : c.red
  const completed = request.steps.filter((s) => s.status === 'completed').length
  const current = request.steps.find((s) => s.status === 'running')
  const where = current ? `step ${current.step} (${current.agent})` : `${completed} step${completed === 1 ? '' : 's'} done`
  const out = [`  ${request.id}  ${colour(fit(request.status, 9))}  ${where}  ${c.dim(fit(request.query ?? '', Math.max(10, w - request.id.length - where.length - 18)))}`.trimEnd()]
  for (const q of request.questions) {
    if (q.answered || !isLive(request)) continue
    const options = q.options?.length ? `  [${q.options.join(' | ')}]` : ''
    out.push(c.yellow(fit(`    ? ${q.questionId}  ${q.question}${options}`, w)))
  }
  // The answer as it streams: the newest message's text, its end when it is longer than a line.
  const said = request.messages?.filter((m) => m.kind === 'text' && m.text !== '').at(-1)
  if (said?.kind === 'text') {
    const text = said.text.replace(/\s+/g, ' ').trim()
    const room = Math.max(10, w - 7)
    out.push(`    › ${text.length > room ? `…${text.slice(text.length - room + 1)}` : text}${said.status === 'open' ? c.dim('▍') : ''}`)
  }
  return out
}

function isLive(request: RequestView): boolean {
  return request.status === 'running' || request.status === 'waiting'
}

/** A load or progress bar of `width` cells. */
export function bar(fraction: number, width: number, c: Colors = pc.createColors(false), muted = false): string {
  const filled = Math.round(clamp01(fraction) * width)
  const full = '█'.repeat(filled)
  const empty = '░'.repeat(width - filled)
  return (muted ? c.dim(full) : c.cyan(full)) + c.dim(empty)
}

function pct(n: number): string {
  return `${Math.round(Math.max(0, Math.min(100, n)))}%`.padStart(4)
}

function countBy<T>(items: readonly T[], key: (item: T) => string): string {
  const counts = new Map<string, number>()
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1)
  return [...counts].map(([k, n]) => `${k} ${n}`).join(' · ')
}

function clamp01(n: number): number {
  return Number.isFinite(n) ? Math.max(0, Math.min(1, n)) : 0
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2).replace(/0+$/, '').replace(/\.$/, '')
}

/** Pads or cuts plain text to exactly `n` characters. */
function fit(text: string, n: number): string {
  const clean = text.replace(/[\r\n\t]+/g, ' ')
  if (n <= 0) return ''
  if (visible(clean) <= n) return clean + ' '.repeat(n - visible(clean))
  return `${clean.slice(0, Math.max(0, n - 1))}…`
}

const ANSI = /\u001b\[[0-9;]*m/g
function visible(text: string): number {
  return text.replace(ANSI, '').length
}

/** Cuts a line, colours included, to `width` visible characters, so a narrow terminal never wraps. */
function clip(line: string, width: number): string {
  if (visible(line) <= width) return line
  let out = ''
  let count = 0
  for (let i = 0; i < line.length; ) {
    const rest = line.slice(i)
    const esc = /^\u001b\[[0-9;]*m/.exec(rest)
    if (esc) {
      out += esc[0]
      i += esc[0].length
      continue
    }
    if (count === width - 1) return `${out}…${line.includes('\u001b[') ? '\u001b[0m' : ''}`
    out += line[i]
    count++
    i++
  }
  return out
}
