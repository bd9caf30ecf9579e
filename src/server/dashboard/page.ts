/**
 * The live dashboard page the gateway serves at `GET /`: plain HTML, a little CSS and one
 * inline module script that loads the browser build of the core and renders from
 * `client.getSnapshot()` on every `client.subscribeStore()` change. No framework, no external
 * asset, no eval (the page is served under a CSP that forbids it, which the core must honour).
 *
 * The script is kept in its own constant so its CSP hash is computed from the exact text.
 */

/** Channels the page follows. */
export const DASHBOARD_CHANNELS = ['agent:*', 'task:*', 'request:*', 'global', 'knowledge', 'metrics', 'chat:*', 'collection:*']

export const DASHBOARD_SCRIPT = String.raw`
const meta = (name) => document.querySelector('meta[name="agentwire-' + name + '"]').content
const $ = (id) => document.getElementById(id)
const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])
const pct = (n) => Math.round(Math.max(0, Math.min(100, Number(n) || 0)))
const bar = (n, cls) => '<div class="bar ' + (cls || '') + '"><i style="width:' + pct(n) + '%"></i></div>'

// Server-made ids (req-7) are shown as they are; a UUID from client.start() by its first 8 characters.
const shortId = (id) => /^[0-9a-f]{8}-[0-9a-f]{4}-/i.test(id) ? id.slice(0, 8) : id
// Requests whose cancel is on its way, and why one failed: kept across re-renders.
const cancelling = new Set()
const cancelErrors = new Map()

// While the link is down the page says so across its top and greys out what it shows: the
// figures are the last ones received, not live ones.
const DOWN = new Set(['reconnecting', 'closed', 'offline', 'unauthorized', 'error'])
let lastLive
function setConnection(state, detail) {
  const el = $('conn')
  el.dataset.state = state
  el.textContent = state
  el.title = detail || ''
  const down = DOWN.has(state)
  if (state === 'open') lastLive = undefined
  else if (down && lastLive === undefined) lastLive = new Date()
  document.body.dataset.conn = down ? 'down' : state === 'open' ? 'live' : 'waiting'
  $('down').hidden = !down
  if (down) {
    const what = state === 'unauthorized' ? 'The gateway refused the token.' : state === 'offline' ? 'This browser is offline.' : state === 'closed' ? 'Disconnected from the gateway.' : 'The gateway is unreachable; reconnecting…'
    $('down').textContent = what + ' Nothing below is live' + (lastLive ? ' since ' + lastLive.toLocaleTimeString() : '') + '.' + (detail ? ' (' + detail + ')' : '')
  }
}

let core
try {
  core = await import(meta('script'))
} catch (error) {
  setConnection('error', String(error))
  $('problem').hidden = false
  $('problem').textContent = 'Could not load ' + meta('script') + ': the browser build is missing. Run "npm run build" and reload.'
  throw error
}

// A token may come in the fragment (#token=...), which never reaches a server; it is dropped from the address bar at once.
const token = new URLSearchParams(location.hash.slice(1)).get('token') || undefined
if (token) history.replaceState(null, '', location.pathname + location.search)
const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + meta('ws-path')
$('url').textContent = url

const client = core.createClient({ url, token })
window.agentwire = client
setConnection(client.state)
client.on('state', (change) => {
  const reason = change.reason ? [change.reason.code, change.reason.message].filter(Boolean).join(' ') : ''
  setConnection(change.current, reason)
})
for (const channel of JSON.parse(meta('channels'))) client.subscribe(channel)

// ── the event log: newest first, bounded
const LOG_MAX = 200
client.on('event', (event, ctx) => {
  const li = document.createElement('li')
  const time = new Date(ctx.time ?? Date.now()).toLocaleTimeString()
  li.innerHTML = '<time>' + esc(time) + '</time><code>' + esc(ctx.channel) + (ctx.seq ? ' #' + ctx.seq : '') + '</code><b>' + esc(event.type) + '</b><span>' + esc(summary(event)) + '</span>'
  const log = $('log')
  log.prepend(li)
  while (log.childElementCount > LOG_MAX) log.lastElementChild.remove()
})
function summary(event) {
  const p = event.payload || {}
  switch (event.type) {
    case 'agent.status': return p.name + ' ' + p.status + (p.load != null ? ' load ' + pct(p.load * 100) + '%' : '')
    case 'routing.decision': return p.taskId + ' → ' + p.agent.name
    case 'task.progress': return p.taskId + ' ' + pct(p.progress) + '% ' + (p.step || '')
    case 'task.failed': return p.taskId + ': ' + p.error.message
    case 'request.question': return p.requestId + ': ' + p.question
    case 'system.notification': return p.level + ': ' + p.message
    default: return p.taskId || p.requestId || p.name || p.nodeId || p.chatId || p.collectionId || ''
  }
}

// ── rendering from the store, at most once per frame
let scheduled = false
client.subscribeStore(() => {
  if (scheduled) return
  scheduled = true
  requestAnimationFrame(() => { scheduled = false; render(client.getSnapshot()) })
})
render(client.getSnapshot())

// A request's streamed answer: its messages' text so far (a cursor while one is open) and its tool calls.
function answer(r) {
  const parts = (r.messages || []).map((m) => m.kind === 'text'
    ? esc(m.text) + (m.status === 'open' ? '<span class="cursor">▍</span>' : '')
    : '<code>' + esc(m.name) + '(' + esc(m.args) + ')' + (m.result !== undefined ? ' → ' + esc(typeof m.result === 'string' ? m.result : JSON.stringify(m.result)) : '') + '</code>')
  return parts.length ? '<p class="answer">' + parts.join(' ') + '</p>' : ''
}

function render(s) {
  const agents = Object.values(s.agents)
  $('agents').innerHTML = agents.length ? agents.map((a) =>
    '<li class="agent" data-name="' + esc(a.name) + '" data-status="' + esc(a.status || 'unknown') + '">' +
      '<span class="dot"></span><b>' + esc(a.name) + '</b><em>' + esc(a.status || '?') + '</em>' +
      bar((a.load || 0) * 100, 'load') + '<span class="num">' + pct((a.load || 0) * 100) + '%</span></li>').join('')
    : '<li class="empty">waiting for agents…</li>'

  const tasks = Object.values(s.tasks)
  const live = tasks.filter((t) => t.status === 'running' || t.status === 'routed').reverse()
  const done = tasks.filter((t) => t.status === 'completed' || t.status === 'failed').reverse().slice(0, 6)
  $('task-counts').textContent = live.length + ' running · ' + tasks.filter((t) => t.status === 'completed').length + ' done · ' + tasks.filter((t) => t.status === 'failed').length + ' failed'
  $('tasks').innerHTML = live.concat(done).map((t) =>
    '<li class="task" data-id="' + esc(t.id) + '" data-status="' + esc(t.status) + '" data-progress="' + pct(t.progress) + '">' +
      '<b>' + esc(t.id) + '</b><span class="name">' + esc(t.name || '') + '</span><em>' + esc(t.agent || '') + '</em>' +
      bar(t.progress, t.status) + '<span class="num">' + pct(t.progress) + '%</span>' +
      '<small class="note">' + esc(t.status === 'failed' ? (t.error && t.error.message) : t.status === 'completed' ? 'done' : (t.step || t.status)) + '</small></li>').join('')
    || '<li class="empty">no tasks yet</li>'

  const requests = Object.values(s.requests).reverse().slice(0, 5)
  $('requests').innerHTML = requests.map((r) =>
    '<li class="request" data-id="' + esc(r.id) + '" data-status="' + esc(r.status) + '">' +
      '<div><b title="' + esc(r.id) + '">' + esc(shortId(r.id)) + '</b> <em class="st">' + esc(r.status) + '</em> <span class="q">' + esc(r.query || '') + '</span>' +
      (r.status === 'running' || r.status === 'waiting'
        ? ' <button type="button" class="cancel" data-request="' + esc(r.id) + '"' + (cancelling.has(r.id) ? ' disabled>Cancelling…' : '>Cancel') + '</button>'
        : '') +
      (cancelErrors.has(r.id) ? ' <small class="error">' + esc(cancelErrors.get(r.id)) + '</small>' : '') + '</div>' +
      '<ol class="steps">' + r.steps.map((st) => '<li data-status="' + esc(st.status) + '">' + esc(st.step) + ' ' + esc(st.agent) + (st.tool ? ' · ' + esc(st.tool) : '') + '</li>').join('') + '</ol>' + answer(r) + '</li>').join('')
    || '<li class="empty">no requests yet</li>'
  renderQuestions(s)

  $('k-nodes').textContent = s.knowledge.nodes
  $('k-edges').textContent = s.knowledge.edges
  const metrics = s.metrics.system || Object.values(s.metrics).pop()
  $('metrics').innerHTML = metrics ? Object.entries(metrics.values).map(([k, v]) => '<dt>' + esc(k) + '</dt><dd>' + esc(Math.round(v * 100) / 100) + '</dd>').join('') : '<dt>waiting for metrics…</dt>'
  $('notices').innerHTML = s.notifications.slice(-4).reverse().map((n) => '<li data-level="' + esc(n.level) + '">' + esc(n.title ? n.title + ': ' + n.message : n.message) + '</li>').join('')
}

// Open questions keep their DOM node while open, so an answer being typed survives re-renders.
function renderQuestions(s) {
  const box = $('questions')
  const open = new Map()
  for (const r of Object.values(s.requests)) for (const q of r.questions) if (!q.answered && r.status !== 'cancelled') open.set(r.id + '/' + q.questionId, { r, q })
  for (const el of [...box.children]) if (!open.has(el.dataset.key)) el.remove()
  for (const [key, { r, q }] of open) {
    if (box.querySelector('[data-key="' + CSS.escape(key) + '"]')) continue
    const form = document.createElement('form')
    form.className = 'question'
    form.dataset.key = key
    form.innerHTML = '<p><b title="' + esc(r.id) + '">' + esc(shortId(r.id)) + '</b> asks: ' + esc(q.question) + '</p>' +
      (q.options || []).map((o) => '<button type="button" class="opt" value="' + esc(o) + '">' + esc(o) + '</button>').join('') +
      '<input name="answer" placeholder="or type an answer" autocomplete="off"><button>Answer</button><small class="status"></small>'
    const send = (answer) => {
      form.querySelectorAll('button,input').forEach((el) => (el.disabled = true))
      form.querySelector('.status').textContent = 'sending…'
      client.feedback(r.id, q.questionId, answer).then(
        () => (form.querySelector('.status').textContent = 'sent'),
        (error) => {
          form.querySelector('.status').textContent = error.message
          form.querySelectorAll('button,input').forEach((el) => (el.disabled = false))
        })
    }
    form.addEventListener('submit', (e) => { e.preventDefault(); if (form.answer.value.trim()) send(form.answer.value.trim()) })
    form.querySelectorAll('.opt').forEach((b) => b.addEventListener('click', () => send(b.value)))
    box.append(form)
  }
  $('no-questions').hidden = open.size > 0
}

$('start').addEventListener('submit', (e) => {
  e.preventDefault()
  const query = e.target.query.value.trim()
  if (!query) return
  const run = client.start({ query })
  const id = shortId(run.id)
  e.target.query.value = ''
  $('start-status').dataset.request = run.id
  $('start-status').textContent = 'started ' + id
  run.result.then(() => ($('start-status').textContent = id + ' completed'), (error) => ($('start-status').textContent = id + ': ' + error.message))
})

// Cancel: one listener for the list, which is re-rendered from the store on every change.
$('requests').addEventListener('click', (e) => {
  const button = e.target.closest('button.cancel')
  if (!button || cancelling.has(button.dataset.request)) return
  const id = button.dataset.request
  cancelling.add(id)
  cancelErrors.delete(id)
  button.disabled = true
  button.textContent = 'Cancelling…'
  client.cancel(id, 'cancelled from the dashboard').then(
    () => cancelling.delete(id),
    (error) => { cancelling.delete(id); cancelErrors.set(id, error.message); render(client.getSnapshot()) })
})
`

const STYLE = `
:root { --bg:#f6f7f9; --card:#fff; --ink:#1d2330; --dim:#6b7385; --line:#e3e6ec; --blue:#3b82f6; --green:#16a34a; --amber:#d97706; --red:#dc2626; }
* { box-sizing: border-box }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--ink) }
header { display:flex; flex-wrap:wrap; align-items:center; gap:4px 12px; padding:12px 20px; background:var(--card); border-bottom:1px solid var(--line) }
header code { overflow-wrap:anywhere }
#down { position:sticky; top:0; z-index:1; margin:0; padding:10px 20px; background:var(--red); color:#fff; font-weight:600 }
body[data-conn=down] main { opacity:.45; filter:grayscale(1) }
header h1 { font-size:17px; margin:0 }
header code { color:var(--dim); font-size:12px }
#conn { margin-left:auto; padding:3px 10px; border-radius:99px; font-weight:600; font-size:12px; background:#eee; color:var(--dim) }
#conn::before { content:"● " }
#conn[data-state=open] { background:#dcfce7; color:var(--green) }
#conn[data-state=connecting], #conn[data-state=reconnecting] { background:#fef3c7; color:var(--amber) }
#conn[data-state=closed], #conn[data-state=unauthorized], #conn[data-state=error], #conn[data-state=offline] { background:#fee2e2; color:var(--red) }
#problem { margin:12px 20px; padding:10px; background:#fee2e2; color:var(--red); border-radius:8px }
main { display:grid; grid-template-columns:repeat(auto-fit, minmax(min(360px, 100%), 1fr)); gap:16px; padding:16px 20px }
section { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:12px 14px; min-width:0; overflow-wrap:anywhere }
@media (max-width: 600px) { main { padding:12px 10px; gap:12px } header { padding:10px } }
section.wide { grid-column:1 / -1 }
@media (min-width: 1180px) { section.log { grid-column:span 2 } }
h2 { font-size:12px; letter-spacing:.06em; text-transform:uppercase; color:var(--dim); margin:0 0 8px; display:flex; justify-content:space-between }
h2 span { text-transform:none; letter-spacing:0; font-weight:400 }
ul, ol { list-style:none; margin:0; padding:0 }
.empty { color:var(--dim) }
.agent, .task { display:grid; align-items:center; gap:8px; padding:4px 0; border-bottom:1px solid var(--line) }
.agent { grid-template-columns:12px 1fr 72px 1.2fr 40px }
.task { grid-template-columns:minmax(64px, max-content) 72px minmax(40px,1fr) 40px; grid-template-areas:"id name name name" "agent agent bar num" "note note note note"; gap:2px 8px }
.task > b { grid-area:id; max-width:18ch } .task > .name { grid-area:name; font-weight:500 } .task > em { grid-area:agent } .task > .bar { grid-area:bar } .task > .num { grid-area:num } .task > .note { grid-area:note }
.task b, .agent b { white-space:nowrap; overflow:hidden; text-overflow:ellipsis }
.task b { font-size:13px; font-variant-numeric:tabular-nums }
.agent:last-child, .task:last-child { border-bottom:0 }
.dot { width:10px; height:10px; border-radius:50%; background:var(--dim) }
[data-status=available] .dot { background:var(--green) } [data-status=busy] .dot { background:var(--amber) } [data-status=offline] .dot { background:var(--red) }
em { font-style:normal; color:var(--dim); font-size:12px }
.num { text-align:right; font-variant-numeric:tabular-nums; font-size:12px }
small { color:var(--dim) }
.task .note:empty { display:none }
button.cancel { padding:1px 8px; font-size:12px; margin-left:4px } button.cancel:hover { border-color:var(--red); color:var(--red) }
small.error { color:var(--red) }
.bar { height:8px; background:#edf0f4; border-radius:4px; overflow:hidden }
.bar i { display:block; height:100%; background:var(--blue); transition:width .3s }
.bar.completed i { background:var(--green) } .bar.failed i { background:var(--red) } .bar.load i { background:var(--amber) }
.request { padding:6px 0; border-bottom:1px solid var(--line) }
.request .q { color:var(--dim) }
.request .answer { margin:4px 0 0; white-space:pre-wrap }
.request .answer .cursor { opacity:.6 }
.steps { display:flex; flex-wrap:wrap; gap:4px; margin-top:4px }
.steps li { font-size:12px; padding:1px 8px; border-radius:99px; background:#eef2ff }
.steps li[data-status=completed] { background:#dcfce7 } .steps li[data-status=failed] { background:#fee2e2 }
.question { margin:6px 0; padding:8px; border:1px solid #fcd34d; background:#fffbeb; border-radius:8px; display:flex; flex-wrap:wrap; gap:6px; align-items:center }
.question p { margin:0; flex-basis:100% }
input { flex:1; min-width:120px; padding:5px 8px; border:1px solid var(--line); border-radius:6px; font:inherit }
button { padding:5px 10px; border:1px solid var(--line); border-radius:6px; background:#fff; font:inherit; cursor:pointer }
button:hover { border-color:var(--blue) }
#start { display:flex; gap:6px; margin-top:8px }
.big { display:flex; gap:24px } .big b { display:block; font-size:26px }
dl { display:grid; grid-template-columns:1fr auto; gap:2px 12px; margin:8px 0 0 } dt { color:var(--dim) } dd { margin:0; text-align:right; font-variant-numeric:tabular-nums }
#notices li { font-size:12px; padding:2px 0 } #notices [data-level=warning] { color:var(--amber) } #notices [data-level=error] { color:var(--red) }
#log { max-height:340px; overflow:auto; font-size:12px }
#log li { display:grid; grid-template-columns:80px 140px 170px minmax(0,1fr); gap:8px; padding:1px 0; border-bottom:1px dashed var(--line); white-space:nowrap }
@media (max-width: 600px) { #log li { grid-template-columns:max-content minmax(0,1fr) minmax(0,1fr) } #log code { display:none } }
#log code { color:var(--dim); overflow:hidden; text-overflow:ellipsis } #log span { overflow:hidden; text-overflow:ellipsis }
`

export interface PageOptions {
  title: string
  wsPath: string
  scriptPath: string
  channels: readonly string[]
}

const attr = (v: string) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')

export function dashboardPage(options: PageOptions): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${attr(options.title)}</title>
<meta name="agentwire-ws-path" content="${attr(options.wsPath)}">
<meta name="agentwire-script" content="${attr(options.scriptPath)}">
<meta name="agentwire-channels" content="${attr(JSON.stringify(options.channels))}">
<style>${STYLE}</style>
</head>
<body>
<header><h1>${attr(options.title)}</h1><code id="url"></code><span id="conn" data-state="idle">idle</span></header>
<p id="down" role="alert" hidden></p>
<div id="problem" hidden></div>
<main>
  <section><h2>Agents</h2><ul id="agents"></ul></section>
  <section><h2>Tasks <span id="task-counts"></span></h2><ul id="tasks"></ul></section>
  <section><h2>Requests</h2><ul id="requests"></ul>
    <div id="questions"></div><p id="no-questions" class="empty">no open questions</p>
    <form id="start"><input name="query" placeholder="Ask the fleet something…" autocomplete="off"><button>Start request</button></form>
    <small id="start-status"></small>
  </section>
  <section><h2>Knowledge &amp; metrics</h2>
    <div class="big"><div><b id="k-nodes">0</b>nodes</div><div><b id="k-edges">0</b>edges</div></div>
    <dl id="metrics"></dl>
    <ul id="notices"></ul>
  </section>
  <section class="log"><h2>Event log <span>newest first</span></h2><ul id="log"></ul></section>
</main>
<script type="module">${DASHBOARD_SCRIPT}</script>
</body>
</html>
`
}
