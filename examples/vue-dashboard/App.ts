import { computed, defineComponent, h } from 'vue'
import { useAgentStatus, useAgents, useChannel, useClient, useConnectionState, useRequest, useStore, useTask } from 'agentwire/vue'

/** The newest tasks shown; older ones stay in the store. */
const MAX_TASKS = 12

const Agent = defineComponent({
  props: { name: { type: String, required: true } },
  setup(props) {
    const agent = useAgentStatus(() => props.name)
    return () => {
      const status = agent.value?.status
      return h('li', { 'data-agent': props.name, 'data-status': status }, [
        h('span', { class: 'name' }, props.name),
        h('span', { class: 'muted' }, `${Math.round((agent.value?.load ?? 0) * 100)}%`),
        h('span', { class: 'badge', 'data-status': status }, status ?? '…'),
      ])
    }
  },
})

const Agents = defineComponent({
  setup() {
    // Names only: the list re-renders when an agent appears, not when one changes.
    const names = useAgents((agents) => Object.keys(agents).sort())
    return () => h('section', [h('h2', `Agents (${names.value.length})`), h('ul', names.value.map((name) => h(Agent, { key: name, name })))])
  },
})

const Task = defineComponent({
  props: { id: { type: String, required: true } },
  setup(props) {
    const task = useTask(() => props.id)
    return () => {
      const t = task.value
      if (!t) return null
      return h('li', { 'data-task': t.id, 'data-progress': t.progress }, [
        h('span', { class: 'name', title: t.message }, t.name ?? t.id),
        h('span', { class: 'muted' }, t.agent ?? ''),
        h('progress', { value: t.progress, max: 100 }),
        h('span', { class: 'badge', 'data-status': t.status }, t.status),
      ])
    }
  },
})

const Tasks = defineComponent({
  setup() {
    useChannel('task:*')
    const ids = useStore((s) => Object.keys(s.tasks).slice(-MAX_TASKS).reverse())
    return () =>
      h('section', [
        h('h2', 'Tasks'),
        ids.value.length === 0 ? h('p', { class: 'muted' }, 'No tasks yet.') : h('ul', ids.value.map((id) => h(Task, { key: id, id }))),
      ])
  },
})

const Request = defineComponent({
  props: { id: { type: String, required: true } },
  setup(props) {
    const { state, cancel, feedback } = useRequest(() => props.id)
    const ignore = () => undefined
    return () => {
      const r = state.value
      if (!r) return null
      const running = r.status === 'running' || r.status === 'waiting'
      const done = r.steps.filter((s) => s.status === 'completed').length
      return h('li', { class: 'request', 'data-request': r.id, 'data-status': r.status }, [
        h('div', [
          h('span', { class: 'badge', 'data-status': r.status }, r.status),
          ` ${r.query ?? r.id}`,
          h('span', { class: 'muted' }, ` · ${done}/${r.steps.length} steps`),
          running ? h('button', { onClick: () => cancel('cancelled from the dashboard').catch(ignore) }, 'Cancel') : null,
        ]),
        ...r.questions
          .filter((q) => !q.answered)
          .map((q) =>
            h('div', { class: 'question', key: q.questionId }, [
              h('div', q.question),
              ...(q.options ?? ['yes', 'no']).map((option) => h('button', { onClick: () => feedback(q.questionId, option).catch(ignore) }, option)),
            ]),
          ),
      ])
    }
  },
})

const Requests = defineComponent({
  setup() {
    const client = useClient()
    useChannel('request:*')
    const ids = useStore((s) => Object.keys(s.requests).slice(-5).reverse())
    const start = () => client.start({ query: 'Summarize the latest incidents' }).accepted.catch(() => undefined)
    return () => h('section', [h('h2', 'Requests'), h('button', { onClick: start }, 'Start a request'), h('ul', ids.value.map((id) => h(Request, { key: id, id })))])
  },
})

export const App = defineComponent({
  setup() {
    const state = useConnectionState()
    const label = computed(() => state.value)
    return () => [
      h('header', [h('h1', 'agentwire · agents live'), h('span', { class: 'state', 'data-testid': 'connection', 'data-state': label.value }, label.value)]),
      h('main', [h(Agents), h(Tasks), h(Requests)]),
    ]
  },
})
