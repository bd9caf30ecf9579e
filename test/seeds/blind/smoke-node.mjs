#!/usr/bin/env node
// Smoke test of the Node seed emulations (routing, rooms, progress). It checks the emulations
// themselves with plain clients (`ws`, `socket.io-client`, `redis`), not agentwire.
//
//   node test/seeds/blind/smoke-node.mjs [--seed N] [--only routing|rooms|progress]
// Exits non-zero on the first failed check group; prints one line per check.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { WebSocket } from 'ws';
import { io as ioClient } from 'socket.io-client';
import { createClient } from 'redis';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const argOf = (k, d) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : d; };
const SEED = Number(argOf('--seed', '7'));
const ONLY = argOf('--only', null);

let failures = 0;
let checks = 0;
function check(name, ok, detail) {
  checks++;
  if (ok) console.log(`ok   ${name}`);
  else { failures++; console.log(`FAIL ${name}${detail !== undefined ? `: ${typeof detail === 'string' ? detail : JSON.stringify(detail).slice(0, 600)}` : ''}`); }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

async function until(fn, ms = 3000, step = 20) {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (await fn()) return true; await sleep(step); }
  return !!(await fn());
}

const children = new Set();
process.on('exit', () => { for (const c of children) { try { c.kill('SIGKILL'); } catch { /* gone */ } } });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

function startServer(file, extra = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, file), ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    child.once('exit', () => children.delete(child));
    let out = '';
    let err = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${file} did not print LISTENING; stderr: ${err}`)); }, 10000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/^LISTENING (\d+) (\d+)$/m);
      if (m) { clearTimeout(timer); resolve({ child, port: Number(m[1]), control: `http://127.0.0.1:${m[2]}`, stop: () => stopChild(child) }); }
    });
    child.stderr.on('data', (d) => { err += d; });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${file} exited ${code}: ${err}`)); });
  });
}
function stopChild(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) { resolve(); return; }
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => { clearTimeout(t); resolve(); });
    child.kill('SIGTERM');
  });
}

const getJson = (url) => fetch(url).then((r) => r.json());
const postJson = (url, body) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) }).then((r) => r.json());

function coverage(messages, keyOf) {
  // every variant value of every dimension appears, per message type
  const seen = {};
  for (const m of messages) {
    const t = keyOf(m);
    for (const [d, v] of Object.entries(m.variant || {})) {
      ((seen[t] ??= {})[d] ??= new Set()).add(String(v));
    }
  }
  return seen;
}

// ================================================================ routing
async function smokeRouting() {
  console.log('# routing');
  const srv = await startServer('routing-server.mjs', ['--port', '0', '--seed', String(SEED)]);
  const tap = createClient({ url: 'redis://127.0.0.1:6379' });
  const tapped = [];
  try {
    await tap.connect();
    await tap.subscribe(['task:routing', 'agent:status'], (message, channel) => tapped.push({ channel, message }));

    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/`);
    const frames = [];
    ws.on('message', (d) => frames.push(d.toString('utf8')));
    await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
    await until(async () => (await getJson(`${srv.control}/control/clients`)).length === 1);
    const me = (await getJson(`${srv.control}/control/clients`)).find((c) => c.remotePort === ws._socket.localPort);
    check('routing: client listed by /control/clients', !!me);

    const plan = await getJson(`${srv.control}/control/scenario?seed=${SEED}`);
    const res = await postJson(`${srv.control}/control/scenario?seed=${SEED}`);
    check('routing: scenario plan (GET) equals what POST emitted', same(plan.messages.map((m) => m.raw), res.messages.map((m) => m.raw)));
    const types = new Set(res.messages.map((m) => m.type));
    check('routing: scenario has routing_decision and agent_status', types.has('routing_decision') && types.has('agent_status'), [...types]);
    check('routing: every scenario message was broadcast', res.messages.every((m) => m.broadcastSeq !== null));
    await until(() => frames.length >= res.count);
    const sentWs = (await getJson(`${srv.control}/control/sent?via=ws`)).filter((r) => r.recipients.includes(me.id));
    check('routing: client frames == /control/sent (via ws) raw text, in order', same(frames, sentWs.map((r) => r.raw)), { frames: frames.length, sent: sentWs.length });
    check('routing: frames are {type, payload} JSON', frames.every((f) => { const o = JSON.parse(f); return typeof o.type === 'string' && o.payload && typeof o.payload === 'object'; }));
    // (other publishers on the shared channels may interleave: compare the scenario's frames only)
    const expectedWs = res.messages.map((m) => m.expectedWs);
    check('routing: frames equal the expected WS text of the plan', same(frames.filter((f) => expectedWs.includes(f)), expectedWs));
    await until(() => tapped.filter((t) => res.messages.some((m) => m.raw === t.message)).length >= res.count);
    const sentRedis = await getJson(`${srv.control}/control/sent?via=redis`);
    check('routing: independent Redis subscriber saw every publication on the seed channels',
      res.messages.every((m) => tapped.some((t) => t.channel === m.channel && t.message === m.raw)));
    check('routing: /control/sent (via redis) lists every publication', res.messages.every((m) => sentRedis.some((r) => r.raw === m.raw && r.channel === m.channel)));
    const cov = coverage(res.messages, (m) => m.type);
    const dims = { routing_decision: { wire: 3, timestamp: 5, taskId: 4, cost: 5 }, agent_status: { status: 8, load: 6, wire: 3, error: 4 } };
    check('routing: every variant of every dimension appears (mixed mode)', Object.entries(dims).every(([t, ds]) => Object.entries(ds).every(([d, n]) => cov[t]?.[d]?.size === n)), cov.routing_decision && Object.fromEntries(Object.entries(cov.routing_decision).map(([k, v]) => [k, [...v]])));
    const statuses = frames.map((f) => JSON.parse(f)).filter((o) => o.type === 'agent_status').map((o) => o.payload.status);
    check('routing: status words beyond available|busy|offline are emitted', statuses.some((s) => !['available', 'busy', 'offline'].includes(s)), statuses);

    const cons = await postJson(`${srv.control}/control/scenario?seed=${SEED + 1}&mode=consistent`);
    const forms = new Set(cons.messages.filter((m) => m.type === 'routing_decision').map((m) => JSON.stringify(m.variant)));
    check('routing: consistent mode keeps one variant per dimension per type', forms.size === 1 && cons.messages.some((m) => m.type === 'agent_status'));

    // emit: bare payload published on agent:status gets wrapped
    const before = frames.length;
    const e1 = await postJson(`${srv.control}/control/emit`, { channel: 'agent:status', message: { name: 'x', status: 'rebooting', load: '0.9' } });
    await until(() => frames.length > before);
    check('routing: /control/emit bare payload -> {type:"agent_status", payload}', same(JSON.parse(frames[before]), { type: 'agent_status', payload: { name: 'x', status: 'rebooting', load: '0.9' } }) && e1.broadcast?.raw === frames[before]);
    const e2 = await postJson(`${srv.control}/control/emit`, { raw: '{"type":"custom_event","payload":{"n":1}}' });
    await until(() => frames.length > before + 1);
    check('routing: /control/emit raw frame delivered as-is', frames[before + 1] === '{"type":"custom_event","payload":{"n":1}}' && e2.broadcast?.via === 'ws');
    // an external publisher (the routing engine) reaches the client through Redis
    const pubc = tap.duplicate();
    await pubc.connect();
    const ext = JSON.stringify({ type: 'routing_decision', payload: { taskId: 'ext-1', agent: { name: 'a', strengths: [], cost: 0.1, latency: 0.2 }, timestamp: 1234567890 } });
    await pubc.publish('task:routing', ext);
    await until(() => frames.includes(ext));
    check('routing: message published by another Redis client is broadcast verbatim', frames.includes(ext));
    await pubc.quit();

    // client -> server frames are recorded, not answered
    ws.send('{"type":"hello"}');
    await until(async () => (await getJson(`${srv.control}/control/received?via=ws`)).length > 0);
    check('routing: client frame recorded in /control/received', (await getJson(`${srv.control}/control/received?via=ws`)).some((r) => r.raw === '{"type":"hello"}'));

    // drop: abrupt close (no close frame -> 1006)
    const closed = new Promise((r) => ws.once('close', (code) => r(code)));
    const d = await postJson(`${srv.control}/control/drop`);
    const code = await Promise.race([closed, sleep(3000).then(() => 'timeout')]);
    check('routing: /control/drop closes the client abruptly (1006)', d.dropped === 1 && code === 1006, { d, code });

    // restart on the same port
    const port = srv.port;
    await srv.stop();
    const srv2 = await startServer('routing-server.mjs', ['--port', String(port), '--seed', String(SEED)]);
    try {
      check('routing: restarts on the same port', srv2.port === port);
      const ws2 = new WebSocket(`ws://127.0.0.1:${port}/`);
      const f2 = [];
      ws2.on('message', (x) => f2.push(x.toString()));
      await new Promise((r, j) => { ws2.once('open', r); ws2.once('error', j); });
      const r2 = await postJson(`${srv2.control}/control/scenario?seed=${SEED}`);
      await until(() => f2.length >= r2.count);
      check('routing: same seed -> same scenario after restart', same(r2.messages.map((m) => m.raw), res.messages.map((m) => m.raw)) && f2.length >= r2.count);
      ws2.terminate();
    } finally { await srv2.stop(); }
  } finally {
    await srv.stop();
    try { await tap.quit(); } catch { /* ignore */ }
  }
}

// ================================================================ rooms
async function smokeRooms() {
  console.log('# rooms');
  const srv = await startServer('rooms-server.mjs', ['--port', '0', '--seed', String(SEED)]);
  try {
    const sock = ioClient(`http://127.0.0.1:${srv.port}`, { transports: ['websocket'], reconnection: false, auth: { userId: 'u-1' } });
    const got = [];
    sock.onAny((event, payload) => got.push({ event, payload }));
    await new Promise((r, j) => { sock.once('connect', r); sock.once('connect_error', j); });
    const info = await getJson(`${srv.control}/control/info`);
    const plan = await getJson(`${srv.control}/control/scenario?seed=${SEED}`);
    const acks = [];
    for (const s of plan.subscribe) acks.push(await sock.timeout(2000).emitWithAck(s.event, s.id));
    const okAck = (a) => (info.house.ackStyle === 'success' ? a.success === true : a.status === 'ok');
    check('rooms: every subscribe:* acked with its room', acks.every((a, i) => okAck(a) && a.room === plan.subscribe[i].room), acks[0]);
    const bad = await sock.timeout(2000).emitWithAck('subscribe:agent', '');
    check('rooms: invalid id -> error ack', info.house.ackStyle === 'success' ? bad.success === false : bad.status === 'error', bad);
    const ready = await sock.timeout(2000).emitWithAck('client:ready');
    check('rooms: client:ready acked', okAck(ready), ready);
    await until(() => got.filter((g) => g.event === 'system:notification').length >= 2);
    const clients = await getJson(`${srv.control}/control/clients`);
    check('rooms: server sees the rooms joined', clients[0] && plan.subscribe.every((s) => clients[0].rooms.includes(s.room)));
    got.length = 0;

    const res = await postJson(`${srv.control}/control/scenario?seed=${SEED}`);
    const expected = res.messages.filter((m) => !m.ghost);
    await until(() => got.length >= expected.length);
    await sleep(50);
    check('rooms: client got every non-ghost scenario event, in order', same(got, expected.map((m) => ({ event: m.event, payload: m.payload }))), { got: got.length, expected: expected.length });
    check('rooms: ghost-room events not delivered', !got.some((g) => JSON.stringify(g.payload).includes('ghost-')));
    const sent = (await getJson(`${srv.control}/control/sent?source=scenario`)).filter((r) => r.recipients.includes(sock.id));
    check('rooms: /control/sent (recipients include me) == received', same(sent.map((r) => ({ event: r.event, payload: r.payload })), got));
    const names = new Set(got.map((g) => g.event));
    const ALL = ['agent:created', 'agent:updated', 'agent:deleted', 'agent:statusChanged', 'chat:created', 'chat:updated', 'chat:deleted', 'chat:messageCreated', 'chat:participantJoined', 'chat:participantLeft', 'collection:created', 'collection:updated', 'collection:deleted', 'system:notification'];
    check('rooms: all 14 server-to-client events emitted', ALL.every((e) => names.has(e)), ALL.filter((e) => !names.has(e)));
    const cov = coverage(res.messages.filter((m) => !m.ghost), (m) => m.event);
    check('rooms: every variant of every dimension appears per event', Object.values(cov).every((ds) => ['timestamp', 'extra'].every((d) => ds[d]?.size === (d === 'timestamp' ? 4 : 2))) && cov['agent:updated'].agentStatus.size === 8 && cov['agent:deleted'].idForm.size === 4 && cov['system:notification'].level.size === 6);

    // unsubscribe, then an event for that room must not arrive
    const s0 = plan.subscribe[0];
    const ua = await sock.timeout(2000).emitWithAck(s0.event.replace('subscribe', 'unsubscribe'), s0.id);
    check('rooms: unsubscribe acked', okAck(ua), ua);
    got.length = 0;
    const kind = s0.event.split(':')[1];
    await postJson(`${srv.control}/control/emit`, { event: `${kind}:updated`, payload: { [`${kind}Id`]: s0.id, [kind]: { id: s0.id }, userId: null, timestamp: new Date().toISOString() } });
    await postJson(`${srv.control}/control/emit`, { event: 'system:notification', payload: { type: 'info', message: 'marker', details: null, timestamp: Date.now() } });
    await until(() => got.length >= 1);
    await sleep(50);
    check('rooms: after unsubscribe the room event is not delivered', got.length === 1 && got[0].event === 'system:notification', got);

    // message receipts
    const rr = await sock.timeout(2000).emitWithAck('message:received', { messageId: 'm-1' });
    const rd = await sock.timeout(2000).emitWithAck('message:read', { messageId: 2 });
    check('rooms: message:received / message:read acked', okAck(rr) && okAck(rd));
    const recv = await getJson(`${srv.control}/control/received?event=message:read`);
    check('rooms: receipts recorded', recv.length === 1 && recv[0].payload.messageId === 2);

    // API routes emit events (agent:created goes to everyone)
    got.length = 0;
    const created = await fetch(`http://127.0.0.1:${srv.port}/api/multi-agent/agents`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user-id': 'u-9' }, body: JSON.stringify({ name: 'API agent' }) }).then((r) => r.json());
    await until(() => got.some((g) => g.event === 'agent:created'));
    const ev = got.find((g) => g.event === 'agent:created');
    check('rooms: POST /api/multi-agent/agents emits agent:created {agentId, agent, userId, timestamp}', ev && ev.payload.agentId === created.id && ev.payload.userId === 'u-9' && ev.payload.agent.name === 'API agent' && 'timestamp' in ev.payload, ev);
    await sock.timeout(2000).emitWithAck('subscribe:agent', created.id);
    await fetch(`http://127.0.0.1:${srv.port}/api/multi-agent/agents/${created.id}/status`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 'busy' }) });
    await until(() => got.some((g) => g.event === 'agent:statusChanged'));
    check('rooms: PATCH .../status emits agent:statusChanged to the agent room', got.some((g) => g.event === 'agent:statusChanged' && g.payload.agent.status === 'busy'));

    // client:disconnect clears the subscriptions
    const cd = await sock.timeout(2000).emitWithAck('client:disconnect');
    const cl2 = await getJson(`${srv.control}/control/clients`);
    check('rooms: client:disconnect acked and rooms cleared', okAck(cd) && cl2[0].rooms.length === 0, cl2);

    // drop: abrupt -> client sees transport close
    const reason = new Promise((r) => sock.once('disconnect', (why) => r(why)));
    const d = await postJson(`${srv.control}/control/drop`);
    const why = await Promise.race([reason, sleep(3000).then(() => 'timeout')]);
    check('rooms: /control/drop disconnects the client abruptly', d.dropped === 1 && (why === 'transport close' || why === 'transport error'), why);
    sock.close();

    const port = srv.port;
    await srv.stop();
    const srv2 = await startServer('rooms-server.mjs', ['--port', String(port), '--seed', String(SEED), '--recovery', 'on']);
    try {
      const s2 = ioClient(`http://127.0.0.1:${port}`, { reconnectionDelay: 50, reconnectionDelayMax: 200 });
      const g2 = [];
      s2.onAny((event, payload) => g2.push({ event, payload }));
      await new Promise((r, j) => { s2.once('connect', r); s2.once('connect_error', j); });
      check('rooms: restarts on the same port (polling+upgrade client connects)', srv2.port === port && s2.connected);
      await until(() => s2.io.engine.transport.name === 'websocket', 2000);
      await s2.timeout(2000).emitWithAck('subscribe:chat', 'c-1');
      const ev = (n) => ({ event: 'chat:messageCreated', payload: { chatId: 'c-1', messageId: n, userId: null, timestamp: n } });
      // the client needs one event (an offset) before a session can be recovered
      await postJson(`${srv2.control}/control/emit`, ev(0));
      await until(() => g2.length >= 1);
      await postJson(`${srv2.control}/control/drop`);
      await postJson(`${srv2.control}/control/emit`, ev(1));
      await new Promise((r) => s2.once('connect', r));
      await postJson(`${srv2.control}/control/emit`, ev(2));
      await until(() => g2.length >= 3);
      check('rooms --recovery on: reconnect recovers rooms and the event emitted while away', s2.recovered === true && same(g2, [ev(0), ev(1), ev(2)]), { recovered: s2.recovered, g2 });
      s2.close();
    } finally { await srv2.stop(); }
  } finally { await srv.stop(); }
}

// ================================================================ progress
async function smokeProgress(events) {
  console.log(`# progress (--events ${events})`);
  const srv = await startServer('progress-server.mjs', ['--port', '0', '--seed', String(SEED), '--events', events, '--step-ms', '5']);
  try {
    const RID = 'req-123';
    const sock = ioClient(`http://127.0.0.1:${srv.port}`, { transports: ['websocket'], reconnection: false, query: { requestId: RID } });
    const got = [];
    sock.onAny((event, payload) => got.push({ event, payload }));
    await new Promise((r, j) => { sock.once('connect', r); sock.once('connect_error', j); });
    const info = await getJson(`${srv.control}/control/info`);
    check(`progress[${events}]: handshake requestId joins request:${RID}`, info.clients[0]?.rooms.includes(`request:${RID}`), info.clients);
    const evName = (t) => (events === 'single' ? 'progress' : t);

    // start with feedback at step 2
    const answerer = (m) => {
      if (m && m.type === 'progress' && m.status === 'waiting_for_feedback') {
        sock.emit('feedback', { type: 'feedback', requestId: RID, questionId: m.data.questionId, answer: 'yes' });
      }
    };
    sock.on(evName('progress'), answerer);
    const ack = await sock.timeout(2000).emitWithAck('start', { type: 'start', requestId: RID, userQuery: 'summarise', context: { steps: 3, feedbackAt: 2 } });
    check(`progress[${events}]: start acked`, ack.accepted === true, ack);
    await until(() => got.some((g) => g.payload?.type === 'request.completed'), 5000);
    const types = got.map((g) => g.payload?.type);
    check(`progress[${events}]: run streams progress, agent.completed x2, request.completed`, types.includes('progress') && types.filter((t) => t === 'agent.completed').length === 2 && types.at(-1) === 'request.completed', types);
    check(`progress[${events}]: event names follow the events mode`, got.every((g) => g.event === evName(g.payload.type)));
    check(`progress[${events}]: asked for feedback and continued after the answer`, got.some((g) => g.payload.status === 'waiting_for_feedback') && got.some((g) => g.payload.data?.answer === 'yes'));
    const last = got.at(-1).payload;
    check(`progress[${events}]: request.completed has requestId and result`, last.requestId === RID && last.result && last.status === 'completed', last);
    const sentSim = (await getJson(`${srv.control}/control/sent?source=simulation`)).filter((r) => r.recipients.includes(sock.id));
    check(`progress[${events}]: /control/sent (simulation) == received`, same(sentSim.map((r) => ({ event: r.event, payload: r.payload })), got));

    sock.off(evName('progress'), answerer);
    // rejoin -> state
    got.length = 0;
    sock.emit('rejoin', { requestId: RID });
    await until(() => got.some((g) => g.event === 'state'));
    const st = got.find((g) => g.event === 'state')?.payload;
    check(`progress[${events}]: rejoin answered with state (completed)`, st && st.status === 'completed' && st.requestId === RID && Array.isArray(st.steps), st);

    // failing run -> error + request.completed failed
    got.length = 0;
    await sock.timeout(2000).emitWithAck('start', { type: 'start', requestId: RID, userQuery: 'x', context: { steps: 3, failAt: 2, feedbackAt: 0 } });
    await until(() => got.some((g) => g.payload?.type === 'request.completed'), 5000);
    const err = got.find((g) => g.payload?.type === 'error');
    check(`progress[${events}]: failAt emits error {agent, message} then request.completed failed`, err && err.payload.agent === 'executor-agent' && typeof err.payload.message === 'string' && got.at(-1).payload.status === 'failed', got.map((g) => g.payload));

    // cancel while waiting for feedback
    got.length = 0;
    const other = 'req-cancel';
    const sock2 = ioClient(`http://127.0.0.1:${srv.port}`, { transports: ['websocket'], reconnection: false, query: { requestId: other } });
    const got2 = [];
    sock2.onAny((event, payload) => got2.push({ event, payload }));
    await new Promise((r) => sock2.once('connect', r));
    await sock2.timeout(2000).emitWithAck('start', { type: 'start', requestId: other, userQuery: 'y', context: { steps: 4, feedbackAt: 1 } });
    await until(() => got2.some((g) => g.payload?.status === 'waiting_for_feedback'));
    sock2.emit('rejoin', { requestId: other });
    await until(() => got2.some((g) => g.event === 'state'));
    const st2 = got2.find((g) => g.event === 'state').payload;
    check(`progress[${events}]: state while waiting shows the pending question`, st2.status === 'waiting_for_feedback' && st2.pendingQuestion?.questionId === 'q-1', st2);
    const cack = await sock2.timeout(2000).emitWithAck('cancel', { type: 'cancel', requestId: other });
    await until(() => got2.some((g) => g.payload?.type === 'request.completed'));
    check(`progress[${events}]: cancel -> progress cancelled + request.completed cancelled`, cack.accepted && got2.some((g) => g.payload?.status === 'cancelled' && g.payload.type === 'progress') && got2.at(-1).payload.status === 'cancelled');
    check(`progress[${events}]: other request's events did not reach the first client`, got.length === 0, got);
    // native-style message command and error for unknown request
    sock2.emit('message', { type: 'cancel', requestId: 'nope' });
    await until(() => got2.some((g) => g.payload?.type === 'error' && g.payload.code === 'NOT_FOUND'));
    check(`progress[${events}]: unknown request -> error to the sender`, got2.some((g) => g.payload?.type === 'error' && g.payload.code === 'NOT_FOUND'));
    sock2.close();

    // scenario
    got.length = 0;
    const res = await postJson(`${srv.control}/control/scenario?seed=${SEED}&requestId=${RID}`);
    await until(() => got.length >= res.count);
    check(`progress[${events}]: client got every scenario message in order`, same(got, res.messages.map((m) => ({ event: m.event, payload: m.payload }))), { got: got.length, count: res.count });
    const stypes = new Set(res.messages.map((m) => m.type));
    check(`progress[${events}]: scenario covers progress, agent.completed, error, request.completed, state`, ['progress', 'agent.completed', 'error', 'request.completed', 'state'].every((t) => stypes.has(t)));
    const sentSc = (await getJson(`${srv.control}/control/sent?source=scenario`)).filter((r) => r.recipients.includes(sock.id));
    check(`progress[${events}]: /control/sent (scenario) == received`, same(sentSc.map((r) => ({ event: r.event, payload: r.payload })), got));
    const cov = coverage(res.messages, (m) => m.type);
    check(`progress[${events}]: every progress step form and status appears`, cov.progress.step.size === 8 && cov.progress.status.size === 10 && cov.state.status.size === 9);
    const otherMode = events === 'single' ? 'typed' : 'single';
    got.length = 0;
    const ov = await postJson(`${srv.control}/control/scenario?seed=${SEED}&requestId=${RID}&events=${otherMode}`);
    await until(() => got.length >= ov.count);
    check(`progress[${events}]: &events=${otherMode} overrides the event names for one scenario`, ov.events === otherMode && same(got.map((g) => g.event), ov.messages.map((m) => (m.type === 'state' ? 'state' : otherMode === 'single' ? 'progress' : m.type))));
    const numeric = await postJson(`${srv.control}/control/scenario?seed=${SEED}&requestId=42`);
    check(`progress[${events}]: numeric requestId scenario sends number ids too`, numeric.messages.some((m) => m.payload.requestId === 42) && numeric.messages.some((m) => m.payload.requestId === '42'));

    // drop + restart
    const reason = new Promise((r) => sock.once('disconnect', (why) => r(why)));
    await postJson(`${srv.control}/control/drop`);
    const why = await Promise.race([reason, sleep(3000).then(() => 'timeout')]);
    check(`progress[${events}]: /control/drop -> transport close`, why === 'transport close' || why === 'transport error', why);
    sock.close();
    const port = srv.port;
    await srv.stop();
    const srv2 = await startServer('progress-server.mjs', ['--port', String(port), '--seed', String(SEED), '--events', events]);
    try {
      const s3 = ioClient(`http://127.0.0.1:${port}`, { reconnection: false, query: { requestId: RID } });
      const g3 = [];
      s3.onAny((e, p) => g3.push({ e, p }));
      await new Promise((r, j) => { s3.once('connect', r); s3.once('connect_error', j); });
      s3.emit('rejoin', { requestId: RID });
      await until(() => g3.length > 0);
      check(`progress[${events}]: after restart, rejoin of a lost request -> state not_found`, g3[0]?.e === 'state' && g3[0].p.status === 'not_found', g3);
      s3.close();
    } finally { await srv2.stop(); }
  } finally { await srv.stop(); }
}

const t0 = Date.now();
const groups = [];
if (!ONLY || ONLY === 'routing') groups.push(() => smokeRouting());
if (!ONLY || ONLY === 'rooms') groups.push(() => smokeRooms());
if (!ONLY || ONLY === 'progress') { groups.push(() => smokeProgress('single')); groups.push(() => smokeProgress('typed')); }
for (const g of groups) {
  try { await g(); } catch (e) { failures++; console.log(`FAIL exception: ${e.stack || e}`); }
}
console.log(`${checks - failures}/${checks} checks passed, ${failures} failed, ${((Date.now() - t0) / 1000).toFixed(1)}s`);
process.exit(failures ? 1 : 0);
