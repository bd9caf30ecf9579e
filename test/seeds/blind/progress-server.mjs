#!/usr/bin/env node
// Progress seed (003_f8ef6b3a6ced2308) emulation, written from the seed document alone.
//
// Socket.IO 4 server. A client connects with `query: { requestId }` and joins room
// `request:<requestId>`. Commands `start` / `cancel` / `feedback` / `rejoin` (Socket.IO events,
// or a `message` event carrying `{type, ...}`). `start` runs a simulated multi-agent request
// (thought-agent plans, executor-agent runs steps, may ask for feedback and wait) that streams
// `progress`, `agent.completed`, `error`, `request.completed` to the request room;
// `rejoin` is answered with `state` to the asking socket.
//
//   node test/seeds/blind/progress-server.mjs --port 0 --seed 1 [--control-port 0]
//        [--events single|typed] [--step-ms 30]
// prints `LISTENING <port> <controlPort>`. See README-routing-rooms-progress.md.
import http from 'node:http';
import { Server } from 'socket.io';
import {
  parseArgs, makeRng, planVariants, scenarioBaseMs, encodeTime, put, wire, Log,
  readJson, startControlServer, trackSockets, listen, sleep, onShutdown, qNum, qMode,
} from './node-common.mjs';

const args = parseArgs(process.argv.slice(2));
const houseRng = makeRng(args.seed * 104729 + 3);
// Process-level choices derived from --seed (one consistent style per process).
const HOUSE = {
  events: ['single', 'typed'].includes(args.events) ? args.events : houseRng.pick(['single', 'typed']),
  stepForm: houseRng.pick(['index', 'id_string', 'name', 'absent']),
  timestamp: houseRng.pick(['missing', 'iso', 'epoch_ms']),
  progressRequestId: houseRng.pick(['absent', 'present']),
  stateTypeField: houseRng.pick(['absent', 'present']),
  askFeedback: houseRng.pick([false, true]),
  stepDelayMs: Number(args.stepMs) >= 0 && args.stepMs !== undefined ? Math.min(5000, Number(args.stepMs)) : 30,
};

const sent = new Log();
const received = new Log();
const requests = new Map(); // requestId (string) -> request record

// ---------------------------------------------------------------- server
const httpServer = http.createServer((req, res) => { res.writeHead(404); res.end(); });
const tcp = trackSockets(httpServer);
const io = new Server(httpServer, { cors: { origin: '*' } });

const roomOf = (rid) => `request:${String(rid)}`;
const eventNameFor = (type, mode = HOUSE.events) => (type === 'state' ? 'state' : mode === 'single' ? 'progress' : type);
const asNumberIfNumeric = (rid) => (/^\d+$/.test(String(rid)) ? Number(rid) : rid);

/** Emit a server message. target: {requestId} -> room, {socketId} -> one socket. */
function emitMsg(msg, target, source, meta = {}) {
  const event = meta.event ?? eventNameFor(msg && msg.type);
  let recipients;
  let room;
  if (target.socketId) {
    recipients = io.sockets.sockets.has(target.socketId) ? [target.socketId] : [];
    io.to(target.socketId).emit(event, msg);
  } else if (target.room || target.requestId !== undefined) {
    room = target.room ?? roomOf(target.requestId);
    recipients = [...(io.sockets.adapter.rooms.get(room) || [])];
    io.to(room).emit(event, msg);
  } else {
    recipients = [...io.sockets.sockets.keys()];
    io.emit(event, msg);
  }
  const { event: _e, ...rest } = meta;
  return sent.push({
    via: 'socket.io', event, type: msg && msg.type,
    to: target.socketId ? 'socket' : room ? 'room' : 'all', room, socketId: target.socketId,
    recipients, payload: wire(msg), source, ...rest,
  });
}

// ---------------------------------------------------------------- encoders (shared by scenario and simulation)
function encodeStep(form, step) {
  switch (form) {
    case 'index': return step.index;
    case 'zero_index': return step.index - 1;
    case 'id_string': return step.id;
    case 'id_number': return step.numId;
    case 'name': return step.name;
    case 'numeric_string': return String(step.index);
    case 'null': return null;
    default: return undefined; // 'absent'
  }
}

/** sem: {requestId, agent, step:{index,id,numId,name}, status, data, ms}; c: encoding choices. */
function encodeProgress(sem, c) {
  const m = { type: 'progress', agent: sem.agent };
  const rid = c.requestId === 'number' ? asNumberIfNumeric(sem.requestId) : sem.requestId;
  if (c.requestId === 'string' || c.requestId === 'number' || c.requestId === 'present') m.requestId = rid;
  const stepVal = encodeStep(c.step, sem.step);
  if (c.step !== 'absent') m.step = stepVal;
  m.status = sem.status;
  // RabbitMQ path of the seed: data is the agent's event data {stepId, stepOrder, status, ...}.
  const data = { stepId: sem.step.id, stepOrder: sem.step.index, status: sem.status, ...(sem.data || {}) };
  let dataForm = c.data;
  if (c.step === 'absent' && (dataForm === 'missing' || dataForm === 'null')) dataForm = 'object';
  if (dataForm === 'object') m.data = data;
  else if (dataForm === 'null') m.data = null;
  else if (dataForm === 'numbers_as_strings') m.data = { ...data, stepOrder: String(data.stepOrder), progress: String(Math.round((sem.step.index / (sem.total || 3)) * 100)) };
  put(m, 'timestamp', encodeTime(c.timestamp, sem.ms));
  if (c.extra === 'extra') { m.progress = Math.round((sem.step.index / (sem.total || 3)) * 100); m.message = `${sem.agent} ${sem.status}`; m.eta = null; }
  return m;
}

function encodeAgentCompleted(sem, c) {
  const m = { type: 'agent.completed', agent: sem.agent };
  if (c.requestId === 'string') m.requestId = sem.requestId;
  else if (c.requestId === 'number') m.requestId = asNumberIfNumeric(sem.requestId);
  switch (c.data) {
    case 'object': m.data = sem.data ?? {}; break;
    case 'null': m.data = null; break;
    case 'string': m.data = typeof sem.data === 'string' ? sem.data : `${sem.agent} finished`; break;
    case 'array': m.data = Array.isArray(sem.data) ? sem.data : [sem.data ?? {}]; break;
    default: break; // missing
  }
  put(m, 'timestamp', encodeTime(c.timestamp, sem.ms));
  if (c.extra === 'extra') { m.durationMs = String(sem.durationMs ?? 1234); m.tokens = { input: 812, output: '230' }; }
  return m;
}

function encodeError(sem, c) {
  const m = { type: 'error' };
  if (c.agent === 'present') m.agent = sem.agent;
  else if (c.agent === 'null') m.agent = null;
  m.message = sem.message;
  if (c.step && c.step !== 'absent') m.step = sem.step ? encodeStep(c.step, sem.step) : null;
  if (c.errorField === 'string') m.error = sem.message;
  else if (c.errorField === 'object') m.error = { code: sem.code ?? 'STEP_FAILED', message: sem.message, retryable: false };
  else if (c.errorField === 'null') m.error = null;
  if (c.requestId === 'string') m.requestId = sem.requestId;
  else if (c.requestId === 'number') m.requestId = asNumberIfNumeric(sem.requestId);
  if (c.code === 'string') m.code = sem.code ?? 'STEP_FAILED';
  else if (c.code === 'number') m.code = 500;
  put(m, 'timestamp', encodeTime(c.timestamp, sem.ms));
  return m;
}

function encodeRequestCompleted(sem, c) {
  const m = { type: 'request.completed' };
  m.requestId = c.requestId === 'number' ? asNumberIfNumeric(sem.requestId) : sem.requestId;
  switch (c.result) {
    case 'object': m.result = sem.result ?? {}; break;
    case 'string': m.result = typeof sem.result === 'string' ? sem.result : (sem.result && sem.result.answer) || 'done'; break;
    case 'null': m.result = null; break;
    case 'array': m.result = Array.isArray(sem.result) ? sem.result : [sem.result ?? null]; break;
    case 'native': if (sem.result !== undefined) m.result = sem.result; break;
    default: break; // missing
  }
  if (c.status && c.status !== 'absent') m.status = c.status === 'native' ? sem.status : c.status;
  if (c.error === 'null') m.error = null;
  else if (c.error === 'string') m.error = sem.error ? (sem.error.message ?? String(sem.error)) : 'partial failure in step 2';
  else if (c.error === 'object') m.error = sem.error ?? { code: 'PARTIAL', message: 'partial failure in step 2' };
  else if (c.error === 'native' && sem.error !== undefined) m.error = sem.error;
  put(m, 'timestamp', encodeTime(c.timestamp, sem.ms));
  if (c.extra === 'extra') { m.durationMs = sem.durationMs ?? 4200; m.completedAt = new Date(sem.ms).toISOString(); }
  return m;
}

/** req: a request record (live or synthetic). */
function encodeState(req, c, ms) {
  const s = {};
  if (c.typeField === 'present') s.type = 'state';
  s.requestId = c.requestId === 'number' ? asNumberIfNumeric(req.requestId) : req.requestId;
  s.status = req.status;
  if (req.userQuery !== undefined) s.userQuery = req.userQuery;
  s.currentAgent = req.currentAgent ?? null;
  const cur = req.currentStep;
  if (c.currentStep === 'index') s.currentStep = cur ? cur.index : null;
  else if (c.currentStep === 'id') s.currentStep = cur ? cur.id : null;
  else if (c.currentStep === 'name') s.currentStep = cur ? cur.name : null;
  else if (c.currentStep === 'null') s.currentStep = null;
  const stepList = req.steps.map((st) => {
    const o = { agent: st.agent, step: st.index, stepId: st.id, name: st.name, status: st.status };
    if (st.result !== undefined) o.result = st.result;
    return o;
  });
  if (c.steps === 'array') s.steps = stepList;
  else if (c.steps === 'map') s.steps = Object.fromEntries(stepList.map((o) => [o.stepId, o]));
  else if (c.steps === 'empty') s.steps = [];
  s.completedAgents = req.completedAgents.slice();
  if (c.pendingQuestion === 'object' || (c.pendingQuestion === 'native' && req.pendingQuestion)) s.pendingQuestion = req.pendingQuestion ?? { questionId: 'q-1', question: 'Proceed with the plan?', options: ['yes', 'no'] };
  else if (c.pendingQuestion === 'null' || c.pendingQuestion === 'native') s.pendingQuestion = null;
  if (c.result === 'object' || (c.result === 'native' && req.result != null)) s.result = req.result ?? { answer: 'partial' };
  else if (c.result === 'null' || c.result === 'native') s.result = null;
  if (c.error === 'string') s.error = req.error ? (req.error.message ?? String(req.error)) : 'previous attempt failed';
  else if (c.error === 'object') s.error = req.error ?? { code: 'STEP_FAILED', message: 'previous attempt failed' };
  else if (c.error === 'null' || (c.error === 'native' && !req.error)) s.error = null;
  else if (c.error === 'native') s.error = req.error;
  if (c.history === 'array') s.history = req.history.slice(-50);
  put(s, 'timestamp', encodeTime(c.timestamp, ms));
  if (req.startedAt) s.startedAt = new Date(req.startedAt).toISOString();
  return s;
}

// House-style encoding choices for live simulation messages.
const LIVE = {
  progress: { step: HOUSE.stepForm, requestId: HOUSE.progressRequestId, data: 'object', timestamp: HOUSE.timestamp, extra: 'none' },
  agentCompleted: { requestId: 'string', data: 'object', timestamp: HOUSE.timestamp, extra: 'none' },
  error: { agent: 'present', step: HOUSE.stepForm, errorField: 'absent', requestId: 'string', code: 'string', timestamp: HOUSE.timestamp },
  requestCompleted: { requestId: 'string', result: 'native', status: 'native', error: 'native', timestamp: HOUSE.timestamp, extra: 'none' },
  state: { typeField: HOUSE.stateTypeField, requestId: 'string', currentStep: HOUSE.stepForm === 'name' ? 'name' : HOUSE.stepForm === 'id_string' ? 'id' : 'index', steps: 'array', pendingQuestion: 'native', result: 'native', error: 'native', history: 'missing', timestamp: HOUSE.timestamp === 'missing' ? 'iso' : HOUSE.timestamp },
};
// Server-level errors (bad command, unknown request): no agent, a code, the requestId if known.
function commandError(socket, message, code, requestId) {
  const m = { type: 'error', message, code };
  if (requestId !== undefined) m.requestId = requestId;
  return emitMsg(m, { socketId: socket.id }, 'command');
}

// ---------------------------------------------------------------- simulated request
class Cancelled extends Error {}

const TOOLS = ['search_documents', 'read_file', 'run_analysis', 'draft_answer', 'verify_citations', 'format_output'];

function newRequest(requestId, userQuery, context) {
  return {
    requestId, userQuery, context, status: 'queued', currentAgent: null, currentStep: null,
    steps: [], completedAgents: [], pendingQuestion: null, result: null, error: null,
    history: [], startedAt: Date.now(), updatedAt: Date.now(), active: true,
    cancelled: false, abort: null, feedbackWaiter: null,
  };
}

function wait(req, ms) {
  return new Promise((resolve, reject) => {
    if (req.cancelled) { reject(new Cancelled()); return; }
    const t = setTimeout(() => { req.abort = null; resolve(); }, ms);
    req.abort = () => { clearTimeout(t); req.abort = null; reject(new Cancelled()); };
  });
}

function emitLive(req, msg) {
  req.history.push(wire(msg));
  req.updatedAt = Date.now();
  return emitMsg(msg, { requestId: req.requestId }, 'simulation');
}

function progress(req, agent, step, status, data) {
  step.status = status;
  if (data && data.result !== undefined) step.result = data.result;
  req.currentAgent = agent; req.currentStep = step;
  const m = encodeProgress({ requestId: req.requestId, agent, step, status, data, ms: Date.now(), total: req.total }, LIVE.progress);
  return emitLive(req, m);
}

async function runRequest(req) {
  const ctx = req.context && typeof req.context === 'object' ? req.context : {};
  const total = Math.max(1, Math.min(20, Number(ctx.steps) || 3));
  const delay = Math.max(0, Math.min(5000, ctx.stepDelayMs !== undefined ? Number(ctx.stepDelayMs) || 0 : HOUSE.stepDelayMs));
  const askAt = ctx.feedbackAt !== undefined ? Number(ctx.feedbackAt)
    : (ctx.askFeedback ?? HOUSE.askFeedback) ? Math.min(2, total) : 0;
  const failAt = Number(ctx.failAt) || 0;
  const feedbackTimeout = Math.max(10, Math.min(300000, Number(ctx.feedbackTimeoutMs) || 60000));
  req.total = total;
  const t0 = Date.now();
  let current = null;
  try {
    // thought-agent: one planning step
    req.status = 'planning';
    const think = { agent: 'thought-agent', index: 1, id: 'think-1', numId: 1, name: 'plan', status: 'pending' };
    req.steps.push(think);
    current = think;
    progress(req, 'thought-agent', think, 'running', { tool: 'llm.plan' });
    await wait(req, delay);
    const plan = Array.from({ length: total }, (_, i) => TOOLS[i % TOOLS.length]);
    progress(req, 'thought-agent', think, 'completed', { result: { plan } });
    req.completedAgents.push('thought-agent');
    emitLive(req, encodeAgentCompleted({ requestId: req.requestId, agent: 'thought-agent', data: { plan, reasoning: `Plan for: ${req.userQuery ?? ''}` }, ms: Date.now(), durationMs: Date.now() - t0 }, LIVE.agentCompleted));

    // executor-agent: the plan's steps
    req.status = 'running';
    const exSteps = plan.map((tool, i) => ({ agent: 'executor-agent', index: i + 1, id: `step-${i + 1}`, numId: 100 + i + 1, name: tool, status: 'pending' }));
    req.steps.push(...exSteps);
    const results = [];
    for (const step of exSteps) {
      current = step;
      progress(req, 'executor-agent', step, 'running', { tool: step.name });
      await wait(req, delay);
      if (step.index === askAt) {
        const question = { questionId: `q-${step.index}`, question: `Step ${step.index} (${step.name}) needs confirmation: continue?`, options: ['yes', 'no'] };
        req.pendingQuestion = question;
        req.status = 'waiting_for_feedback';
        progress(req, 'executor-agent', step, 'waiting_for_feedback', { tool: step.name, ...question });
        const answer = await new Promise((resolve, reject) => {
          if (req.cancelled) { reject(new Cancelled()); return; }
          const t = setTimeout(() => { req.feedbackWaiter = null; req.abort = null; reject(Object.assign(new Error('Feedback timed out'), { code: 'FEEDBACK_TIMEOUT' })); }, feedbackTimeout);
          req.feedbackWaiter = { questionId: question.questionId, resolve: (a) => { clearTimeout(t); req.feedbackWaiter = null; req.abort = null; resolve(a); } };
          req.abort = () => { clearTimeout(t); req.feedbackWaiter = null; req.abort = null; reject(new Cancelled()); };
        });
        req.pendingQuestion = null;
        req.status = 'running';
        progress(req, 'executor-agent', step, 'running', { tool: step.name, questionId: question.questionId, answer });
        await wait(req, delay);
      }
      if (step.index === failAt) {
        const message = typeof ctx.errorMessage === 'string' ? ctx.errorMessage : `Tool ${step.name} failed at step ${step.index}`;
        throw Object.assign(new Error(message), { code: 'STEP_FAILED', step });
      }
      const result = { tool: step.name, output: `${step.name} ok`, items: step.index * 2 };
      results.push(result);
      progress(req, 'executor-agent', step, 'completed', { result });
    }
    req.completedAgents.push('executor-agent');
    emitLive(req, encodeAgentCompleted({ requestId: req.requestId, agent: 'executor-agent', data: { results }, ms: Date.now(), durationMs: Date.now() - t0 }, LIVE.agentCompleted));
    req.status = 'completed';
    req.result = { answer: `Answer to: ${req.userQuery ?? ''}`, steps: results.length, results };
    req.active = false;
    emitLive(req, encodeRequestCompleted({ requestId: req.requestId, result: req.result, status: 'completed', ms: Date.now(), durationMs: Date.now() - t0 }, LIVE.requestCompleted));
  } catch (err) {
    req.active = false;
    req.pendingQuestion = null;
    const agent = current ? current.agent : 'executor-agent';
    if (err instanceof Cancelled) {
      req.status = 'cancelled';
      if (current) progress(req, agent, current, 'cancelled', { reason: 'cancelled by client' });
      emitLive(req, encodeRequestCompleted({ requestId: req.requestId, result: null, status: 'cancelled', ms: Date.now(), durationMs: Date.now() - t0 }, LIVE.requestCompleted));
      return;
    }
    req.status = 'failed';
    req.error = { code: err.code || 'INTERNAL', message: err.message };
    if (current) progress(req, agent, current, 'failed', { error: err.message });
    emitLive(req, encodeError({ requestId: req.requestId, agent, message: err.message, code: err.code || 'INTERNAL', step: current, ms: Date.now() }, LIVE.error));
    emitLive(req, encodeRequestCompleted({ requestId: req.requestId, result: null, status: 'failed', error: req.error, ms: Date.now(), durationMs: Date.now() - t0 }, LIVE.requestCompleted));
  }
}

// ---------------------------------------------------------------- commands
function ridFrom(socket, data) {
  const v = data && typeof data === 'object' ? data.requestId : undefined;
  if (v !== undefined && v !== null && String(v) !== '') return String(v);
  return socket.data.requestId;
}
function reply(cb, body) { if (typeof cb === 'function') cb(body); }

const COMMANDS = {
  start(socket, data, cb) {
    const rid = ridFrom(socket, data);
    if (!rid) { commandError(socket, 'requestId is required', 'BAD_REQUEST'); reply(cb, { accepted: false, error: 'requestId is required' }); return; }
    const existing = requests.get(rid);
    if (existing && existing.active) {
      commandError(socket, `Request ${rid} is already running`, 'ALREADY_RUNNING', rid);
      reply(cb, { accepted: false, requestId: rid, error: 'already running' });
      return;
    }
    socket.join(roomOf(rid));
    const req = newRequest(rid, data && data.userQuery, data && data.context);
    requests.set(rid, req);
    reply(cb, { accepted: true, requestId: rid, status: req.status });
    runRequest(req);
  },
  cancel(socket, data, cb) {
    const rid = ridFrom(socket, data);
    const req = rid && requests.get(rid);
    if (!req) { commandError(socket, `Unknown request ${rid ?? ''}`.trim(), 'NOT_FOUND', rid); reply(cb, { accepted: false, requestId: rid, error: 'not found' }); return; }
    if (!req.active) { commandError(socket, `Request ${rid} already finished (${req.status})`, 'NOT_ACTIVE', rid); reply(cb, { accepted: false, requestId: rid, error: 'not active' }); return; }
    req.cancelled = true;
    reply(cb, { accepted: true, requestId: rid, status: 'cancelling' });
    if (req.abort) req.abort();
  },
  feedback(socket, data, cb) {
    const rid = ridFrom(socket, data);
    const req = rid && requests.get(rid);
    if (!req) { commandError(socket, `Unknown request ${rid ?? ''}`.trim(), 'NOT_FOUND', rid); reply(cb, { accepted: false, requestId: rid, error: 'not found' }); return; }
    const w = req.feedbackWaiter;
    if (!w) { commandError(socket, `Request ${rid} is not waiting for feedback`, 'NO_PENDING_QUESTION', rid); reply(cb, { accepted: false, requestId: rid, error: 'no pending question' }); return; }
    const qid = data && data.questionId;
    if (qid !== undefined && qid !== null && String(qid) !== w.questionId) {
      commandError(socket, `Unknown questionId ${qid} (pending: ${w.questionId})`, 'WRONG_QUESTION', rid);
      reply(cb, { accepted: false, requestId: rid, error: 'wrong questionId' });
      return;
    }
    reply(cb, { accepted: true, requestId: rid, questionId: w.questionId });
    w.resolve(data ? data.answer : undefined);
  },
  rejoin(socket, data, cb) {
    const rid = ridFrom(socket, data);
    if (!rid) { commandError(socket, 'requestId is required', 'BAD_REQUEST'); reply(cb, { accepted: false, error: 'requestId is required' }); return; }
    socket.join(roomOf(rid));
    const req = requests.get(rid) || { ...newRequest(rid), status: 'not_found', startedAt: null, active: false };
    const state = encodeState(req, LIVE.state, Date.now());
    reply(cb, { accepted: true, requestId: rid, status: req.status });
    emitMsg(state, { socketId: socket.id }, 'command', { event: 'state' });
  },
};

io.on('connection', (socket) => {
  const q = socket.handshake.query || {};
  const rid = q.requestId ?? (socket.handshake.auth && socket.handshake.auth.requestId);
  socket.data.requestId = rid !== undefined && rid !== null && String(rid) !== '' ? String(rid) : undefined;
  if (socket.data.requestId) socket.join(roomOf(socket.data.requestId));

  const handle = (name) => (...a) => {
    const cb = typeof a[a.length - 1] === 'function' ? a.pop() : undefined;
    received.push({ via: 'socket.io', socketId: socket.id, event: name, payload: wire(a[0]) });
    try { COMMANDS[name](socket, a[0], cb); } catch (e) { commandError(socket, e.message, 'INTERNAL'); }
  };
  for (const name of Object.keys(COMMANDS)) socket.on(name, handle(name));
  // Native-style: one `message` event carrying {type: 'start'|'cancel'|'feedback'|'rejoin', ...}.
  socket.on('message', (...a) => {
    const cb = typeof a[a.length - 1] === 'function' ? a.pop() : undefined;
    let d = a[0];
    if (typeof d === 'string') { try { d = JSON.parse(d); } catch { /* keep */ } }
    received.push({ via: 'socket.io', socketId: socket.id, event: 'message', payload: wire(d) });
    const t = d && d.type;
    if (!Object.hasOwn(COMMANDS, t)) { commandError(socket, `Unknown command type ${t}`, 'UNKNOWN_COMMAND'); reply(cb, { accepted: false, error: 'unknown command' }); return; }
    try { COMMANDS[t](socket, d, cb); } catch (e) { commandError(socket, e.message, 'INTERNAL'); }
  });
  socket.on('disconnect', () => { /* rooms are left automatically; requests keep running for rejoin */ });
});

// ---------------------------------------------------------------- scenario
const DIMS = {
  progress: {
    step: ['index', 'zero_index', 'id_string', 'id_number', 'name', 'numeric_string', 'null', 'absent'],
    status: ['running', 'completed', 'failed', 'queued', 'pending', 'planning', 'waiting_for_feedback', 'paused', 'cancelled', 'skipped'],
    requestId: ['absent', 'string', 'number'],
    data: ['object', 'missing', 'null', 'numbers_as_strings'],
    timestamp: ['missing', 'iso', 'epoch_ms', 'epoch_s'],
    extra: ['none', 'extra'],
  },
  agentCompleted: {
    data: ['object', 'missing', 'null', 'string', 'array'],
    requestId: ['string', 'number', 'missing'],
    timestamp: ['missing', 'iso', 'epoch_ms', 'epoch_s'],
    extra: ['none', 'extra'],
  },
  error: {
    agent: ['present', 'missing', 'null'],
    step: ['absent', 'index', 'id_string', 'name', 'null', 'numeric_string'],
    errorField: ['absent', 'string', 'object', 'null'],
    requestId: ['absent', 'string', 'number'],
    code: ['absent', 'string', 'number'],
    timestamp: ['missing', 'iso', 'epoch_ms', 'epoch_s'],
  },
  requestCompleted: {
    result: ['object', 'string', 'null', 'array', 'missing'],
    status: ['absent', 'completed', 'success', 'failed', 'cancelled', 'partial'],
    error: ['absent', 'null', 'string', 'object'],
    requestId: ['string', 'number'],
    timestamp: ['missing', 'iso', 'epoch_ms', 'epoch_s'],
    extra: ['none', 'extra'],
  },
  state: {
    typeField: ['absent', 'present'],
    status: ['running', 'completed', 'failed', 'waiting_for_feedback', 'paused', 'queued', 'planning', 'pending', 'cancelled'],
    steps: ['array', 'map', 'missing', 'empty'],
    currentStep: ['index', 'id', 'name', 'null', 'missing'],
    error: ['null', 'string', 'object', 'missing'],
    result: ['null', 'object', 'missing'],
    pendingQuestion: ['null', 'object', 'missing'],
    history: ['missing', 'array'],
    timestamp: ['iso', 'epoch_ms', 'epoch_s', 'missing'],
    requestId: ['string', 'number'],
  },
};
const AGENTS = ['executor-agent', 'thought-agent', 'planner-agent', 'critic-agent'];

function scenarioStep(i) {
  const idx = (i % 5) + 1;
  return { index: idx, id: `step-${idx}`, numId: 100 + idx, name: TOOLS[(idx - 1) % TOOLS.length] };
}

function buildScenario(seed, mode, requestId, events = HOUSE.events) {
  const rng = makeRng(seed);
  const base = scenarioBaseMs(seed);
  const body = [];
  planVariants(rng, DIMS.progress, mode).forEach((c, j) => body.push({ kind: 'progress', c, j }));
  planVariants(rng, DIMS.agentCompleted, mode).forEach((c, j) => body.push({ kind: 'agentCompleted', c, j }));
  planVariants(rng, DIMS.error, mode).forEach((c, j) => body.push({ kind: 'error', c, j }));
  planVariants(rng, DIMS.state, mode).forEach((c, j) => body.push({ kind: 'state', c, j }));
  const tail = planVariants(rng, DIMS.requestCompleted, mode).map((c, j) => ({ kind: 'requestCompleted', c, j }));
  // request.completed last: a client may stop listening after it.
  const order = [...rng.shuffle(body), ...tail];
  return order.map((it, i) => {
    const ms = base + i * 1000;
    const agent = AGENTS[(seed + it.j) % AGENTS.length];
    const step = scenarioStep(seed + it.j);
    let msg;
    if (it.kind === 'progress') {
      const status = it.c.status;
      let data = { tool: step.name };
      if (status === 'completed') data = { result: { output: `${step.name} ok`, items: step.index } };
      else if (status === 'failed') data = { error: `${step.name} failed` };
      else if (status === 'waiting_for_feedback') data = { questionId: 'q-1', question: 'Continue with the next step?', options: ['yes', 'no'] };
      msg = encodeProgress({ requestId, agent, step, status, data, ms, total: 5 }, it.c);
    } else if (it.kind === 'agentCompleted') {
      const data = { summary: `${agent} done`, confidence: 0.9, steps: step.index };
      msg = encodeAgentCompleted({ requestId, agent, data, ms, durationMs: 1500 + it.j }, it.c);
    } else if (it.kind === 'error') {
      msg = encodeError({ requestId, agent, message: `Tool ${step.name} timed out after 30s`, code: 'TOOL_TIMEOUT', step, ms }, it.c);
    } else if (it.kind === 'requestCompleted') {
      const result = { answer: `Final answer for ${requestId}`, sources: ['doc-1', 'doc-2'], steps: 5 };
      msg = encodeRequestCompleted({ requestId, result, ms, durationMs: 4200 + it.j }, it.c);
    } else {
      const req = newRequest(requestId, 'What changed in the last release?', {});
      req.status = it.c.status;
      req.startedAt = base;
      req.currentAgent = agent;
      req.currentStep = step;
      req.steps = [1, 2, 3].map((k) => ({ agent: 'executor-agent', index: k, id: `step-${k}`, numId: 100 + k, name: TOOLS[k - 1], status: k < step.index ? 'completed' : k === step.index ? 'running' : 'pending', ...(k < step.index ? { result: { output: `${TOOLS[k - 1]} ok` } } : {}) }));
      req.completedAgents = ['thought-agent'];
      req.history = [{ type: 'progress', agent: 'thought-agent', step: 1, status: 'completed' }];
      msg = encodeState(req, it.c, ms);
    }
    const type = it.kind === 'state' ? 'state' : msg.type;
    return { index: i, type, event: eventNameFor(type, events), room: roomOf(requestId), variant: it.c, payload: wire(msg) };
  });
}

async function runScenario(seed, mode, requestId, interval, events) {
  const plan = buildScenario(seed, mode, requestId, events);
  for (const m of plan) {
    const r = emitMsg(m.payload, { room: m.room }, 'scenario', { event: m.event, type: m.type, scenarioSeed: seed, variant: m.variant });
    m.seq = r.seq; m.recipients = r.recipients;
    if (interval > 0) await sleep(interval);
  }
  // Leave a finished request behind so a later `rejoin` gets a coherent state.
  if (!requests.get(requestId)?.active) {
    const req = newRequest(requestId, 'scenario', {});
    Object.assign(req, { status: 'completed', active: false, completedAgents: ['thought-agent', 'executor-agent'], result: { answer: `Final answer for ${requestId}` }, history: plan.map((m) => m.payload).slice(-50) });
    requests.set(requestId, req);
  }
  return plan;
}

// ---------------------------------------------------------------- control API
const qEvents = (url) => (['single', 'typed'].includes(url.searchParams.get('events')) ? url.searchParams.get('events') : HOUSE.events);
const routes = {
  'GET /control/info': async () => ({
    server: 'progress', seed: args.seed, port, controlPort, house: HOUSE,
    clients: [...io.sockets.sockets.values()].map((s) => ({ id: s.id, requestId: s.data.requestId ?? null, rooms: [...s.rooms].filter((r) => r !== s.id) })),
  }),
  'GET /control/clients': async () => [...io.sockets.sockets.values()].map((s) => ({ id: s.id, requestId: s.data.requestId ?? null, rooms: [...s.rooms].filter((r) => r !== s.id) })),
  'GET /control/requests': async () => [...requests.values()].map((r) => ({ requestId: r.requestId, status: r.status, active: r.active, steps: r.steps.length, pendingQuestion: r.pendingQuestion })),
  'GET /control/sent': async (req, url) => sent.list(url.searchParams),
  'GET /control/received': async (req, url) => received.list(url.searchParams),
  'POST /control/reset': async () => { sent.clear(); received.clear(); return { ok: true }; },
  'GET /control/scenario': async (req, url) => {
    const seed = qNum(url, 'seed', args.seed);
    const rid = url.searchParams.get('requestId') || 'req-123';
    const events = qEvents(url);
    return { seed, mode: qMode(url), requestId: rid, room: roomOf(rid), events, messages: buildScenario(seed, qMode(url), rid, events) };
  },
  'POST /control/scenario': async (req, url) => {
    const seed = qNum(url, 'seed', args.seed);
    const mode = qMode(url);
    const rid = url.searchParams.get('requestId') || 'req-123';
    const events = qEvents(url);
    const messages = await runScenario(seed, mode, rid, qNum(url, 'interval', 0), events);
    return { seed, mode, requestId: rid, room: roomOf(rid), events, count: messages.length, messages };
  },
  'POST /control/emit': async (req) => {
    const b = await readJson(req);
    const msg = b.payload !== undefined ? b.payload : b.message;
    const event = b.event ?? eventNameFor(msg && msg.type);
    let target;
    if (b.socketId) target = { socketId: b.socketId };
    else if (b.room) target = { room: b.room };
    else if (b.requestId !== undefined) target = { requestId: b.requestId };
    else if (b.to === 'all') target = {};
    else if (msg && typeof msg === 'object' && msg.requestId !== undefined && msg.requestId !== null) target = { requestId: msg.requestId };
    else target = {};
    return emitMsg(msg, target, 'emit', { event });
  },
  'POST /control/drop': async (req, url) => {
    const graceful = url.searchParams.get('mode') === 'graceful';
    const socks = [...io.sockets.sockets.values()];
    if (graceful) for (const s of socks) s.disconnect(true);
    else {
      for (const s of tcp) s.destroy();
      for (const s of socks) { try { s.conn.close(true); } catch { /* ignore */ } }
    }
    return { dropped: socks.length, mode: graceful ? 'graceful' : 'abrupt' };
  },
};

// ---------------------------------------------------------------- start
const port = await listen(httpServer, args.port);
const control = await startControlServer(args.controlPort, routes);
const controlPort = control.address().port;
process.stdout.write(`LISTENING ${port} ${controlPort}\n`);

onShutdown(async () => {
  for (const r of requests.values()) { r.cancelled = true; if (r.abort) { try { r.abort(); } catch { /* ignore */ } } }
  io.close();
  for (const s of tcp) s.destroy();
  control.close();
});
