import { useAgentStatus, useAgents, useChannel, useClient, useConnectionState, useRequest, useStore, useTask } from 'agentwire/react'

/** The newest tasks shown; older ones stay in the store. */
const MAX_TASKS = 12

export function App() {
  const state = useConnectionState()
  return (
    <>
      <header>
        <h1>agentwire · agents live</h1>
        <span className="state" data-testid="connection" data-state={state}>{state}</span>
      </header>
      <main>
        <Agents />
        <Tasks />
        <Requests />
      </main>
    </>
  )
}

function Agents() {
  // Names only: the list re-renders when an agent appears, not when one changes.
  const names = useAgents((agents) => Object.keys(agents).sort())
  return (
    <section>
      <h2>Agents ({names.length})</h2>
      <ul>{names.map((name) => <Agent key={name} name={name} />)}</ul>
    </section>
  )
}

function Agent({ name }: { name: string }) {
  const agent = useAgentStatus(name)
  const load = Math.round((agent?.load ?? 0) * 100)
  return (
    <li data-agent={name} data-status={agent?.status}>
      <span className="name">{name}</span>
      <span className="muted">{load}%</span>
      <span className="badge" data-status={agent?.status}>{agent?.status ?? '…'}</span>
    </li>
  )
}

function Tasks() {
  useChannel('task:*')
  const ids = useStore((s) => Object.keys(s.tasks).slice(-MAX_TASKS).reverse())
  return (
    <section>
      <h2>Tasks</h2>
      {ids.length === 0 ? <p className="muted">No tasks yet.</p> : <ul>{ids.map((id) => <Task key={id} id={id} />)}</ul>}
    </section>
  )
}

function Task({ id }: { id: string }) {
  const task = useTask(id)
  if (!task) return null
  return (
    <li data-task={id} data-progress={task.progress}>
      <span className="name" title={task.message}>{task.name ?? id}</span>
      <span className="muted">{task.agent}</span>
      <progress value={task.progress} max={100} />
      <span className="badge" data-status={task.status}>{task.status}</span>
    </li>
  )
}

function Requests() {
  const client = useClient()
  useChannel('request:*')
  const ids = useStore((s) => Object.keys(s.requests).slice(-5).reverse())
  const start = () => client.start({ query: 'Summarize the latest incidents' }).accepted.catch(() => undefined)
  return (
    <section>
      <h2>Requests</h2>
      <button onClick={start}>Start a request</button>
      <ul>{ids.map((id) => <Request key={id} id={id} />)}</ul>
    </section>
  )
}

function Request({ id }: { id: string }) {
  const { state, cancel, feedback } = useRequest(id)
  if (!state) return null
  const open = state.questions.filter((q) => !q.answered)
  const running = state.status === 'running' || state.status === 'waiting'
  return (
    <li className="request" data-request={id} data-status={state.status}>
      <div>
        <span className="badge" data-status={state.status}>{state.status}</span> {state.query ?? id}
        <span className="muted"> · {state.steps.filter((s) => s.status === 'completed').length}/{state.steps.length} steps</span>
        {running && <button onClick={() => void cancel('cancelled from the dashboard').catch(() => undefined)}>Cancel</button>}
      </div>
      {open.map((q) => (
        <div className="question" key={q.questionId}>
          <div>{q.question}</div>
          {(q.options ?? ['yes', 'no']).map((option) => (
            <button key={option} onClick={() => void feedback(q.questionId, option).catch(() => undefined)}>{option}</button>
          ))}
        </div>
      ))}
    </li>
  )
}
