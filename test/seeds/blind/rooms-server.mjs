#!/usr/bin/env node
// Rooms seed (002_e5485f6272591808) emulation, written from the seed document alone.
//
// Socket.IO 4 server, CORS '*', room subscriptions (`subscribe:agent` -> room `agent:<id>`, ...),
// server-to-client CRUD events, a notification service, and API routes that emit the events.
//
//   node test/seeds/blind/rooms-server.mjs --port 0 --seed 1 [--control-port 0] [--ack success|status]
// prints `LISTENING <port> <controlPort>`. See README-routing-rooms-progress.md.
import http from 'node:http';
import { Server } from 'socket.io';
import {
  parseArgs, makeRng, planVariants, scenarioBaseMs, encodeTime, put, wire, Log,
  readJson, sendJson, startControlServer, trackSockets, listen, sleep, onShutdown, qNum, qMode,
} from './node-common.mjs';

const args = parseArgs(process.argv.slice(2));
const house = makeRng(args.seed * 7919 + 1);
// Process-level choices (a real backend has one style); derived from --seed, overridable.
const HOUSE = {
  ackStyle: ['success', 'status'].includes(args.ack) ? args.ack : house.pick(['success', 'status']),
  timestamp: house.pick(['iso', 'epoch_ms']),
};

const sent = new Log();
const received = new Log();

// ---------------------------------------------------------------- ClientSubscriptionManager
const KINDS = ['agent', 'chat', 'collection'];
const subsByEntity = new Map(); // 'agent:x' -> Set(socketId)
const subsByClient = new Map(); // socketId -> Set('agent:x')

function subscribe(socket, kind, id) {
  const room = `${kind}:${String(id)}`;
  socket.join(room);
  if (!subsByEntity.has(room)) subsByEntity.set(room, new Set());
  subsByEntity.get(room).add(socket.id);
  if (!subsByClient.has(socket.id)) subsByClient.set(socket.id, new Set());
  subsByClient.get(socket.id).add(room);
  return room;
}
function unsubscribe(socket, kind, id) {
  const room = `${kind}:${String(id)}`;
  socket.leave(room);
  subsByEntity.get(room)?.delete(socket.id);
  if (subsByEntity.get(room)?.size === 0) subsByEntity.delete(room);
  subsByClient.get(socket.id)?.delete(room);
  return room;
}
function unsubscribeAll(socket) {
  for (const room of subsByClient.get(socket.id) || []) {
    socket.leave(room);
    subsByEntity.get(room)?.delete(socket.id);
    if (subsByEntity.get(room)?.size === 0) subsByEntity.delete(room);
  }
  subsByClient.delete(socket.id);
}
function subscriptionsOf(socketId) {
  const out = { agents: [], chats: [], collections: [] };
  for (const room of subsByClient.get(socketId) || []) {
    const i = room.indexOf(':');
    out[`${room.slice(0, i)}s`].push(room.slice(i + 1));
  }
  return out;
}

// ---------------------------------------------------------------- server
const httpServer = http.createServer((req, res) => api(req, res).catch((e) => sendJson(res, 400, { error: e.message })));
const tcp = trackSockets(httpServer);
// --recovery on: Socket.IO connection state recovery (rooms and missed events restored on a
// quick reconnect); default off: a reconnecting client gets a new socket and must resubscribe.
const RECOVERY = args.recovery === 'on' || args.recovery === 'true';
const io = new Server(httpServer, {
  cors: { origin: '*' },
  ...(RECOVERY ? { connectionStateRecovery: { maxDisconnectionDuration: 120000, skipMiddlewares: true } } : {}),
});

function ack(fn, ok, body) {
  if (typeof fn !== 'function') return;
  if (HOUSE.ackStyle === 'success') {
    fn(ok ? { success: true, ...body } : { success: false, error: body.message });
  } else {
    fn(ok ? { status: 'ok', ...body } : { status: 'error', error: { code: body.code, message: body.message } });
  }
}

function validId(v) {
  if (typeof v === 'string' && v.trim() !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  return undefined;
}
// The seed's payload is the bare id; an object {agentId}/{id} is accepted too.
function extractId(kind, payload) {
  if (payload && typeof payload === 'object') return validId(payload[`${kind}Id`] ?? payload.id);
  return validId(payload);
}

function nowStamp() { return encodeTime(HOUSE.timestamp, Date.now()); }

io.on('connection', (socket) => {
  const userId = socket.handshake.auth?.userId ?? socket.handshake.query?.userId ?? null;
  if (socket.recovered) {
    // rooms came back with the session: rebuild the subscription maps from them
    for (const room of socket.rooms) {
      const i = room.indexOf(':');
      if (i > 0 && KINDS.includes(room.slice(0, i))) subscribe(socket, room.slice(0, i), room.slice(i + 1));
    }
  } else {
    socket.data.userId = userId;
    socket.data.ready = false;
  }

  const rec = (event, args2) => received.push({ via: 'socket.io', socketId: socket.id, event, payload: args2[0], args: args2.length > 1 ? args2 : undefined });

  for (const kind of KINDS) {
    socket.on(`subscribe:${kind}`, (...a) => {
      const cb = typeof a[a.length - 1] === 'function' ? a.pop() : undefined;
      rec(`subscribe:${kind}`, a);
      const id = extractId(kind, a[0]);
      if (id === undefined) {
        const message = `Invalid ${kind}Id`;
        ack(cb, false, { code: 'INVALID_ID', message });
        emitTo(socket.id, 'system:notification', { type: 'error', message, details: { event: `subscribe:${kind}`, received: a[0] ?? null }, timestamp: nowStamp() }, 'command');
        return;
      }
      const room = subscribe(socket, kind, id);
      ack(cb, true, { room, [`${kind}Id`]: id, subscribers: subsByEntity.get(room)?.size ?? 0 });
    });
    socket.on(`unsubscribe:${kind}`, (...a) => {
      const cb = typeof a[a.length - 1] === 'function' ? a.pop() : undefined;
      rec(`unsubscribe:${kind}`, a);
      const id = extractId(kind, a[0]);
      if (id === undefined) { ack(cb, false, { code: 'INVALID_ID', message: `Invalid ${kind}Id` }); return; }
      const room = unsubscribe(socket, kind, id);
      ack(cb, true, { room, [`${kind}Id`]: id, subscribers: subsByEntity.get(room)?.size ?? 0 });
    });
  }

  socket.on('client:ready', (...a) => {
    const cb = typeof a[a.length - 1] === 'function' ? a.pop() : undefined;
    rec('client:ready', a);
    socket.data.ready = true;
    ack(cb, true, { socketId: socket.id, subscriptions: subscriptionsOf(socket.id) });
    emitTo(socket.id, 'system:notification', {
      type: 'info',
      message: 'Client ready',
      details: { socketId: socket.id, subscriptions: subscriptionsOf(socket.id) },
      timestamp: nowStamp(),
    }, 'command');
  });

  socket.on('client:disconnect', (...a) => {
    const cb = typeof a[a.length - 1] === 'function' ? a.pop() : undefined;
    rec('client:disconnect', a);
    unsubscribeAll(socket);
    ack(cb, true, { socketId: socket.id });
  });

  for (const ev of ['message:received', 'message:read']) {
    socket.on(ev, (...a) => {
      const cb = typeof a[a.length - 1] === 'function' ? a.pop() : undefined;
      rec(ev, a);
      const messageId = a[0] && typeof a[0] === 'object' ? validId(a[0].messageId) : undefined;
      if (messageId === undefined) { ack(cb, false, { code: 'INVALID_MESSAGE_ID', message: 'messageId required' }); return; }
      ack(cb, true, { messageId });
    });
  }

  socket.onAny((event, ...a) => {
    if (event.startsWith('subscribe:') || event.startsWith('unsubscribe:') || event.startsWith('client:') || event.startsWith('message:')) return;
    if (typeof a[a.length - 1] === 'function') a.pop();
    rec(event, a);
  });

  socket.on('disconnect', () => {
    // with recovery the rooms may come back, but the maps are rebuilt on reconnect anyway
    unsubscribeAll(socket);
  });
});

/** Emit and record. target: {all:true} | {room} | {socketId}. */
function emitEvent(event, payload, target, source, meta = {}) {
  let recipients;
  if (target.room) {
    recipients = [...(io.sockets.adapter.rooms.get(target.room) || [])];
    io.to(target.room).emit(event, payload);
  } else if (target.socketId) {
    recipients = io.sockets.sockets.has(target.socketId) ? [target.socketId] : [];
    io.to(target.socketId).emit(event, payload);
  } else {
    recipients = [...io.sockets.sockets.keys()];
    io.emit(event, payload);
  }
  return sent.push({
    via: 'socket.io', event,
    to: target.room ? 'room' : target.socketId ? 'socket' : 'all',
    room: target.room, socketId: target.socketId,
    recipients, payload: wire(payload), source, ...meta,
  });
}
function emitTo(socketId, event, payload, source) { return emitEvent(event, payload, { socketId }, source); }

/** Default delivery: `*:created` and `system:notification` to everyone, the rest to the entity room. */
function defaultTarget(event, payload) {
  const [kind, action] = event.split(':');
  if (event === 'system:notification' || action === 'created' || !KINDS.includes(kind)) return { all: true };
  const id = payload && payload[`${kind}Id`];
  if (id === undefined || id === null) return { all: true };
  return { room: `${kind}:${String(id)}` };
}

// ---------------------------------------------------------------- WebSocketNotificationService
const Notify = {
  agent(action, agent, userId) {
    const p = { agentId: agent.id };
    if (action !== 'deleted') p.agent = agent;
    p.userId = userId; p.timestamp = nowStamp();
    const event = `agent:${action}`;
    return emitEvent(event, p, defaultTarget(event, p), 'api');
  },
  chat(action, chat, userId, extra = {}) {
    const p = { chatId: chat.id };
    if (action === 'created' || action === 'updated') p.chat = chat;
    Object.assign(p, extra);
    p.userId = userId; p.timestamp = nowStamp();
    const event = `chat:${action}`;
    return emitEvent(event, p, defaultTarget(event, p), 'api');
  },
  collection(action, col, userId) {
    const p = { collectionId: col.id };
    if (action !== 'deleted') p.metadata = col.metadata ?? null;
    p.userId = userId; p.timestamp = nowStamp();
    const event = `collection:${action}`;
    return emitEvent(event, p, defaultTarget(event, p), 'api');
  },
  system(type, message, details) {
    return emitEvent('system:notification', { type, message, details: details ?? null, timestamp: nowStamp() }, { all: true }, 'api');
  },
};

// ---------------------------------------------------------------- API routes (CRUD emits events)
const store = { agents: new Map(), chats: new Map(), collections: new Map() };
let idCounter = 1;
async function api(req, res) {
  const url = new URL(req.url, 'http://x');
  const m = url.pathname.match(/^\/api\/multi-agent\/(agents|chats|collections|system\/notifications)(?:\/([^/]+))?(?:\/(status|messages|participants))?(?:\/([^/]+))?\/?$/);
  if (!m) { sendJson(res, 404, { error: 'not found' }); return; }
  const [, coll, id, sub, subId] = m;
  const userId = req.headers['x-user-id'] ?? null;
  const body = ['POST', 'PUT', 'PATCH'].includes(req.method) ? await readJson(req) : {};
  const uid = body.userId ?? userId;
  if (coll === 'system/notifications' && req.method === 'POST') {
    const r = Notify.system(body.type ?? 'info', body.message ?? '', body.details);
    sendJson(res, 200, { ok: true, sent: r.seq }); return;
  }
  const kind = coll.slice(0, -1);
  const map = store[coll];
  if (!id) {
    if (req.method === 'GET') { sendJson(res, 200, [...map.values()]); return; }
    if (req.method === 'POST') {
      const now = new Date().toISOString();
      const ent = { ...body, id: body.id ?? `${kind}-${idCounter++}`, createdAt: now, updatedAt: now };
      delete ent.userId;
      if (kind === 'agent' && !ent.status) ent.status = 'active';
      if (kind === 'collection' && !('metadata' in ent)) ent.metadata = {};
      map.set(String(ent.id), ent);
      Notify[kind]('created', ent, uid);
      sendJson(res, 201, ent); return;
    }
  }
  const ent = map.get(String(id));
  if (!ent) { sendJson(res, 404, { error: `${kind} ${id} not found` }); return; }
  if (!sub) {
    if (req.method === 'GET') { sendJson(res, 200, ent); return; }
    if (req.method === 'PUT' || req.method === 'PATCH') {
      const { userId: _u, ...rest } = body;
      Object.assign(ent, rest, { id: ent.id, updatedAt: new Date().toISOString() });
      Notify[kind]('updated', ent, uid);
      sendJson(res, 200, ent); return;
    }
    if (req.method === 'DELETE') {
      map.delete(String(id));
      Notify[kind]('deleted', ent, uid);
      sendJson(res, 200, { ok: true }); return;
    }
  }
  if (kind === 'agent' && sub === 'status' && ['POST', 'PUT', 'PATCH'].includes(req.method)) {
    ent.status = body.status; ent.updatedAt = new Date().toISOString();
    Notify.agent('statusChanged', ent, uid);
    sendJson(res, 200, ent); return;
  }
  if (kind === 'chat' && sub === 'messages' && req.method === 'POST') {
    const messageId = body.id ?? `msg-${idCounter++}`;
    Notify.chat('messageCreated', ent, uid, { messageId });
    sendJson(res, 201, { id: messageId, chatId: ent.id, content: body.content ?? '' }); return;
  }
  if (kind === 'chat' && sub === 'participants') {
    if (req.method === 'POST') {
      Notify.chat('participantJoined', ent, uid, { participantId: body.participantId });
      sendJson(res, 200, { ok: true }); return;
    }
    if (req.method === 'DELETE' && subId) {
      Notify.chat('participantLeft', ent, uid, { participantId: decodeURIComponent(subId) });
      sendJson(res, 200, { ok: true }); return;
    }
  }
  sendJson(res, 405, { error: 'method not allowed' });
}

// ---------------------------------------------------------------- scenario
const EVENTS = [
  'agent:created', 'agent:updated', 'agent:deleted', 'agent:statusChanged',
  'chat:created', 'chat:updated', 'chat:deleted', 'chat:messageCreated',
  'chat:participantJoined', 'chat:participantLeft',
  'collection:created', 'collection:updated', 'collection:deleted',
  'system:notification',
];
const COMMON = {
  idForm: ['string', 'number', 'numeric_string', 'uuid'],
  userId: ['string', 'number', 'null', 'missing'],
  timestamp: ['iso', 'epoch_ms', 'epoch_s', 'numeric_string'],
  extra: ['none', 'extra'],
};
const DIMS = {
  agent: { ...COMMON, agentStatus: ['active', 'idle', 'busy', 'error', 'paused', 'offline', 'inactive', 'waiting_for_feedback'], agentShape: ['full', 'minimal', 'mongo_id', 'nullable_fields'] },
  agentDeleted: { ...COMMON },
  chat: { ...COMMON, chatShape: ['full', 'minimal', 'null_title'] },
  chatDeleted: { ...COMMON },
  message: { ...COMMON, messageIdForm: ['string', 'number', 'uuid'], message: ['absent', 'object', 'content_only'] },
  participant: { ...COMMON, participantIdForm: ['string', 'number', 'uuid'] },
  collection: { ...COMMON, metadata: ['object', 'null', 'missing', 'numbers_as_strings', 'empty'] },
  collectionDeleted: { ...COMMON },
  system: { level: ['info', 'warning', 'error', 'success', 'debug', 'critical'], details: ['object', 'null', 'missing', 'string', 'array'], timestamp: COMMON.timestamp, extra: COMMON.extra },
};
function dimsFor(event) {
  switch (event) {
    case 'agent:deleted': return DIMS.agentDeleted;
    case 'chat:deleted': return DIMS.chatDeleted;
    case 'collection:deleted': return DIMS.collectionDeleted;
    case 'chat:messageCreated': return DIMS.message;
    case 'chat:participantJoined': case 'chat:participantLeft': return DIMS.participant;
    case 'system:notification': return DIMS.system;
    default: return DIMS[event.split(':')[0]];
  }
}

function uuidFrom(rng) {
  const h = () => Math.floor(rng.next() * 0x10000).toString(16).padStart(4, '0');
  return `${h()}${h()}-${h()}-4${h().slice(1)}-8${h().slice(1)}-${h()}${h()}${h()}`;
}

function entityIds(seed) {
  const rng = makeRng(seed * 31 + 7);
  const out = {};
  for (const kind of KINDS) {
    out[kind] = { string: `${kind}-${100 + seed}`, number: 100 + seed, uuid: uuidFrom(rng) };
  }
  return out;
}

function idOf(form, kind, seed, rng, j) {
  if (form === 'number') return 5000 + seed * 10 + j;
  if (form === 'uuid') return uuidFrom(rng);
  return `${kind}-${5000 + seed * 10 + j}`;
}

function buildPayload(event, c, ctx) {
  const { seed, rng, ids, ms, j } = ctx;
  const [kind, action] = event.split(':');
  const ts = encodeTime(c.timestamp, ms);
  const uid = c.userId === 'string' ? `user-${seed}` : c.userId === 'number' ? 42 + seed : c.userId === 'null' ? null : undefined;
  if (event === 'system:notification') {
    const p = { type: c.level, message: `${c.level} notification ${j} (scenario ${seed})` };
    if (c.details === 'object') p.details = { collectionId: 'agents', backupId: `backup-${seed}-${j}` };
    else if (c.details === 'null') p.details = null;
    else if (c.details === 'string') p.details = 'Collection backup completed';
    else if (c.details === 'array') p.details = [{ key: 'disk', value: '91%' }];
    p.timestamp = ts;
    if (c.extra === 'extra') { p.id = `notif-${seed}-${j}`; p.source = 'system'; p.ttl = '30000'; }
    return p;
  }
  // numeric_string: the number id sent as a string ("102"), same room as the number 102
  const id = c.idForm === 'numeric_string' ? String(ids[kind].number) : ids[kind][c.idForm];
  const p = { [`${kind}Id`]: id };
  if (kind === 'agent' && action !== 'deleted') {
    let agent;
    const created = new Date(ms - 86400000).toISOString();
    switch (c.agentShape) {
      case 'minimal': agent = { id, name: `Agent ${String(id).slice(0, 8)}`, status: c.agentStatus }; break;
      case 'mongo_id': agent = { _id: String(id), name: 'Research Agent', status: c.agentStatus, createdAt: created, updatedAt: new Date(ms).toISOString() }; break;
      case 'nullable_fields': agent = { id, name: 'Planner', description: null, status: c.agentStatus, model: null, capabilities: null, createdAt: created, updatedAt: null }; break;
      default: agent = {
        id, name: 'Research Agent', description: 'Finds and summarises sources', status: c.agentStatus,
        model: 'gpt-4o', capabilities: ['search', 'summarize'], temperature: '0.7', maxTokens: 4096,
        createdAt: created, updatedAt: new Date(ms).toISOString(),
      };
    }
    p.agent = agent;
  }
  if (kind === 'chat' && (action === 'created' || action === 'updated')) {
    if (c.chatShape === 'minimal') p.chat = { id, title: `Chat ${j}` };
    else if (c.chatShape === 'null_title') p.chat = { id, title: null, participants: [], messages: [] };
    else p.chat = { id, title: 'Design review', participants: [`user-${seed}`, ids.agent.string], createdAt: new Date(ms - 3600000).toISOString(), messageCount: '3' };
  }
  if (event === 'chat:messageCreated') {
    const messageId = idOf(c.messageIdForm, 'msg', seed, rng, j);
    p.messageId = messageId;
    if (c.message === 'object') p.message = { id: messageId, content: 'Hello from the agent', role: 'assistant', senderId: ids.agent.string };
    else if (c.message === 'content_only') p.content = 'Hello from the user';
  }
  if (event === 'chat:participantJoined' || event === 'chat:participantLeft') {
    p.participantId = idOf(c.participantIdForm, 'participant', seed, rng, j);
  }
  if (kind === 'collection' && action !== 'deleted') {
    if (c.metadata === 'object') p.metadata = { name: 'agents', description: 'Agent definitions', documentCount: 12, vectorDimensions: 1536 };
    else if (c.metadata === 'null') p.metadata = null;
    else if (c.metadata === 'numbers_as_strings') p.metadata = { name: 'kb', documentCount: '12', vectorDimensions: '1536' };
    else if (c.metadata === 'empty') p.metadata = {};
  }
  put(p, 'userId', uid);
  p.timestamp = ts;
  if (c.extra === 'extra') {
    p.eventId = `evt-${seed}-${j}`;
    p.version = 2;
    if (kind === 'agent' && action === 'statusChanged') { p.previousStatus = 'idle'; p.status = p.agent?.status ?? 'busy'; }
    if (action === 'deleted') p[kind] = null;
  }
  return p;
}

function buildScenario(seed, mode) {
  const rng = makeRng(seed);
  const ids = entityIds(seed);
  const base = scenarioBaseMs(seed);
  const items = [];
  for (const event of EVENTS) {
    planVariants(rng, dimsFor(event), mode).forEach((c, j) => items.push({ event, c, j }));
  }
  const order = rng.shuffle(items);
  const plan = order.map((it, i) => {
    const payload = buildPayload(it.event, it.c, { seed, rng, ids, ms: base + i * 1000, j: it.j });
    const target = defaultTarget(it.event, payload);
    return { index: i, event: it.event, room: target.room ?? null, to: target.room ? 'room' : 'all', variant: it.c, payload: wire(payload) };
  });
  // Two events for entities nobody is told to subscribe to: a client must NOT receive them.
  const ts = encodeTime('iso', base + plan.length * 1000);
  const ghostAgent = `ghost-agent-${seed}`;
  const ghostChat = `ghost-chat-${seed}`;
  plan.push({ index: plan.length, event: 'agent:updated', room: `agent:${ghostAgent}`, to: 'room', ghost: true, variant: { ghost: true },
    payload: { agentId: ghostAgent, agent: { id: ghostAgent, name: 'Ghost', status: 'active' }, userId: null, timestamp: ts } });
  plan.push({ index: plan.length, event: 'chat:messageCreated', room: `chat:${ghostChat}`, to: 'room', ghost: true, variant: { ghost: true },
    payload: { chatId: ghostChat, messageId: `ghost-msg-${seed}`, userId: null, timestamp: ts } });
  const subscribe = [];
  for (const kind of KINDS) for (const form of ['string', 'number', 'uuid']) subscribe.push({ event: `subscribe:${kind}`, id: ids[kind][form], room: `${kind}:${String(ids[kind][form])}` });
  return { subscribe, messages: plan };
}

async function runScenario(seed, mode, interval) {
  const plan = buildScenario(seed, mode);
  for (const m of plan.messages) {
    const r = emitEvent(m.event, m.payload, m.room ? { room: m.room } : { all: true }, 'scenario', { scenarioSeed: seed, variant: m.variant, ghost: m.ghost });
    m.seq = r.seq; m.recipients = r.recipients;
    if (interval > 0) await sleep(interval);
  }
  return plan;
}

// ---------------------------------------------------------------- control API
const routes = {
  'GET /control/info': async () => ({
    server: 'rooms', seed: args.seed, port, controlPort, house: HOUSE, recovery: RECOVERY,
    clients: [...io.sockets.sockets.values()].map((s) => ({ id: s.id, ready: s.data.ready, userId: s.data.userId, rooms: [...s.rooms].filter((r) => r !== s.id) })),
  }),
  'GET /control/clients': async () => [...io.sockets.sockets.values()].map((s) => ({ id: s.id, ready: s.data.ready, userId: s.data.userId, rooms: [...s.rooms].filter((r) => r !== s.id) })),
  'GET /control/sent': async (req, url) => sent.list(url.searchParams),
  'GET /control/received': async (req, url) => received.list(url.searchParams),
  'POST /control/reset': async () => { sent.clear(); received.clear(); return { ok: true }; },
  'GET /control/scenario': async (req, url) => {
    const seed = qNum(url, 'seed', args.seed);
    return { seed, mode: qMode(url), ...buildScenario(seed, qMode(url)) };
  },
  'POST /control/scenario': async (req, url) => {
    const seed = qNum(url, 'seed', args.seed);
    const mode = qMode(url);
    const plan = await runScenario(seed, mode, qNum(url, 'interval', 0));
    return { seed, mode, count: plan.messages.length, ...plan };
  },
  'POST /control/emit': async (req) => {
    const b = await readJson(req);
    if (!b.event) throw new Error('event required');
    const target = b.room ? { room: b.room } : b.socketId ? { socketId: b.socketId } : b.to === 'all' ? { all: true } : defaultTarget(b.event, b.payload);
    if (Array.isArray(b.args)) {
      // several arguments in one emit
      const t = target;
      const recipients = t.room ? [...(io.sockets.adapter.rooms.get(t.room) || [])] : t.socketId ? [t.socketId] : [...io.sockets.sockets.keys()];
      (t.room ? io.to(t.room) : t.socketId ? io.to(t.socketId) : io).emit(b.event, ...b.args);
      return sent.push({ via: 'socket.io', event: b.event, to: t.room ? 'room' : t.socketId ? 'socket' : 'all', room: t.room, socketId: t.socketId, recipients, payload: wire(b.args[0]), args: wire(b.args), source: 'emit' });
    }
    return emitEvent(b.event, b.payload, target, 'emit');
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
  io.close();
  for (const s of tcp) s.destroy();
  control.close();
});
