// 1,000 agents rendered through useAgentStatus; one agent updates 1,000 times.
// Counts renders per row and the time per update (publish -> committed render). The provider
// notifies per batch (`schedule`), not per frame, so the time is the render's, not the frame wait.
import { Window } from 'happy-dom'

const window = new Window()
Object.assign(globalThis, { window, document: window.document, navigator: window.navigator, HTMLElement: window.HTMLElement, IS_REACT_ACT_ENVIRONMENT: false })

const { createElement: h, Profiler } = await import('react')
const { createRoot } = await import('react-dom/client')
const { createClient } = await import('agentwire')
const { AgentwireProvider, useAgentStatus } = await import('agentwire/react')
const { createMockGateway } = await import('agentwire/testing')
const { report } = await import('../lib.mjs')

const AGENTS = 1000
const UPDATES = Number(process.argv[2] ?? 1000)
const names = Array.from({ length: AGENTS }, (_, i) => `agent-${i}`)
const renders = new Map()

function Row({ name }) {
  renders.set(name, (renders.get(name) ?? 0) + 1)
  const agent = useAgentStatus(name)
  return h('li', null, `${name} ${agent?.status ?? '-'} ${agent?.load ?? 0}`)
}

const gateway = createMockGateway()
for (const name of names) gateway.publish(`agent:${name}`, { type: 'agent.status', payload: { name, status: 'available', load: 0 } })
const client = createClient({ url: gateway.url, WebSocket: gateway.WebSocket })

let commits = 0
let lastCommit = 0
const root = createRoot(document.createElement('div'))
root.render(h(Profiler, { id: 'list', onRender: () => { commits++; lastCommit = performance.now() } }, h(AgentwireProvider, { client, schedule: (notify) => notify() }, h('ul', null, names.map((name) => h(Row, { key: name, name }))))))

const until = async (pred, ms = 30_000) => {
  const end = Date.now() + ms
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 1))
  }
}
await until(() => names.every((n) => client.getSnapshot().agents[n]?.status === 'available'))
await new Promise((r) => setTimeout(r, 50))
renders.clear()

const target = names[500]
const times = []
for (let i = 1; i <= UPDATES; i++) {
  const before = commits
  const t0 = performance.now()
  gateway.publish(`agent:${target}`, { type: 'agent.status', payload: { name: target, status: i % 2 ? 'busy' : 'available', load: i / UPDATES } })
  await until(() => commits > before)
  times.push(lastCommit - t0)
}
times.sort((a, b) => a - b)
const others = [...renders.entries()].filter(([n]) => n !== target).reduce((a, [, c]) => a + c, 0)
report({ type: 'result', updates: UPDATES, targetRenders: renders.get(target) ?? 0, otherRenders: others, msPerUpdate: times.reduce((a, b) => a + b, 0) / times.length, p99: times[Math.floor(times.length * 0.99)] })
root.unmount()
client.close()
gateway.close()
setTimeout(() => process.exit(0), 10)
