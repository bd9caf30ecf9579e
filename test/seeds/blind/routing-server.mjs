#!/usr/bin/env node
// Routing seed (000_7277955496221d23) emulation, written from the seed document alone.
//
// Routing engine -> Redis channels `task:routing` / `agent:status` -> WebSocket server
// subscribed to both channels -> every connected WebSocket client gets `{type, payload}` JSON.
//
//   node test/seeds/blind/routing-server.mjs --port 0 --seed 1 [--control-port 0]
//        [--redis-url redis://127.0.0.1:6379] [--channel-prefix ""] [--ping-ms 30000]
// prints `LISTENING <wsPort> <controlPort>` once the WebSocket server listens and both
// Redis subscriptions are active. See README-routing-rooms-progress.md.
import http from 'node:http';
import { WebSocketServer, WebSocket } from 'ws';
import { createClient } from 'redis';
import {
  parseArgs, makeRng, planVariants, scenarioBaseMs, encodeTime, put, wire, Log,
  readJson, startControlServer, trackSockets, listen, sleep, onShutdown, qNum, qMode,
} from './node-common.mjs';

const args = parseArgs(process.argv.slice(2));
const prefix = args.channelPrefix && args.channelPrefix !== 'true' ? args.channelPrefix : '';
const CH_ROUTING = `${prefix}task:routing`;
const CH_STATUS = `${prefix}agent:status`;
const TYPE_BY_CHANNEL = { [CH_ROUTING]: 'routing_decision', [CH_STATUS]: 'agent_status' };
const CHANNEL_BY_TYPE = { routing_decision: CH_ROUTING, agent_status: CH_STATUS };
const redisUrl = args.redisUrl && args.redisUrl !== 'true' ? args.redisUrl : 'redis://127.0.0.1:6379';
const pingMs = Number(args.pingMs) || 30000;

const sent = new Log();       // every publish to Redis and every frame sent to a WS client
const received = new Log();   // every frame a WS client sent us, and Redis messages we could not forward
const clients = new Map();    // ws -> { id, remotePort, connectedAt }
let nextClientId = 1;
const waiters = [];           // scenario: resolve when a published raw string came back from Redis

// ---------------------------------------------------------------- Redis
const pub = createClient({ url: redisUrl });
const sub = pub.duplicate();
pub.on('error', (e) => console.error('[routing] redis pub error:', e.message));
sub.on('error', (e) => console.error('[routing] redis sub error:', e.message));

async function publish(channel, message, meta = {}) {
  const raw = typeof message === 'string' ? message : JSON.stringify(message);
  let parsed;
  try { parsed = JSON.parse(raw); } catch { parsed = raw; }
  const subscribers = await pub.publish(channel, raw);
  return sent.push({ via: 'redis', channel, payload: parsed, raw, subscribers, ...meta });
}

/** WS server side: a message arrived on a subscribed Redis channel. */
function onRedisMessage(raw, channel) {
  let obj;
  try { obj = JSON.parse(raw); } catch {
    received.push({ via: 'redis', channel, raw, dropped: 'not JSON' });
    console.error(`[routing] dropped non-JSON message on ${channel}`);
    settleWaiters(raw, channel, null);
    return;
  }
  let text;
  let form;
  if (obj && typeof obj === 'object' && !Array.isArray(obj) && typeof obj.type === 'string' && 'payload' in obj) {
    // Already a `{type, payload}` envelope: forward the exact string.
    text = raw;
    form = 'envelope';
  } else if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
    // Bare payload: wrap it with the type implied by the channel.
    text = JSON.stringify({ type: TYPE_BY_CHANNEL[channel], payload: obj });
    form = 'bare';
  } else {
    received.push({ via: 'redis', channel, raw, dropped: 'not an object' });
    settleWaiters(raw, channel, null);
    return;
  }
  const rec = broadcast(text, { source: 'redis', channel, redisForm: form });
  settleWaiters(raw, channel, rec);
}

function settleWaiters(raw, channel, rec) {
  const i = waiters.findIndex((w) => w.raw === raw && w.channel === channel);
  if (i >= 0) { const [w] = waiters.splice(i, 1); clearTimeout(w.timer); w.resolve(rec); }
}

function waitForEcho(raw, channel, ms = 5000) {
  return new Promise((resolve) => {
    const w = { raw, channel, resolve, timer: null };
    w.timer = setTimeout(() => {
      const i = waiters.indexOf(w);
      if (i >= 0) waiters.splice(i, 1);
      resolve(null);
    }, ms);
    waiters.push(w);
  });
}

// ---------------------------------------------------------------- WebSocket
const httpServer = http.createServer((req, res) => {
  res.writeHead(426, { 'content-type': 'text/plain' });
  res.end('WebSocket endpoint; connect with ws://\n');
});
const tcp = trackSockets(httpServer);
const wss = new WebSocketServer({ server: httpServer });

wss.on('connection', (ws, req) => {
  const info = { id: nextClientId++, remotePort: req.socket.remotePort, path: req.url, connectedAt: Date.now(), alive: true };
  clients.set(ws, info);
  ws.on('pong', () => { info.alive = true; });
  ws.on('message', (data, isBinary) => {
    const text = isBinary ? null : data.toString('utf8');
    let payload = text;
    try { payload = JSON.parse(text); } catch { /* keep text */ }
    received.push({ via: 'ws', clientId: info.id, payload, raw: text, binary: !!isBinary });
  });
  ws.on('close', () => clients.delete(ws));
  ws.on('error', () => clients.delete(ws));
});

const pingTimer = setInterval(() => {
  for (const [ws, info] of clients) {
    if (!info.alive) { ws.terminate(); clients.delete(ws); continue; }
    info.alive = false;
    try { ws.ping(); } catch { /* ignore */ }
  }
}, pingMs);
pingTimer.unref();

function broadcast(text, meta = {}) {
  const recipients = [];
  for (const [ws, info] of clients) {
    if (ws.readyState === WebSocket.OPEN) { ws.send(text); recipients.push(info.id); }
  }
  let payload;
  try { payload = JSON.parse(text); } catch { payload = text; }
  return sent.push({
    via: 'ws', type: payload && typeof payload === 'object' ? payload.type : undefined,
    to: 'all', recipients, payload, raw: text, ...meta,
  });
}

// ---------------------------------------------------------------- scenario
const AGENTS = [
  { name: 'claude-architect', strengths: ['reasoning', 'cad-modeling'] },
  { name: 'gpt-drafter', strengths: ['drafting', 'fast-iteration'] },
  { name: 'local-llama', strengths: ['cheap', 'offline'] },
  { name: 'vision-inspector', strengths: ['image-analysis'] },
];

const ROUTING_DIMS = {
  taskId: ['string', 'number', 'numeric_string', 'uuid'],
  strengths: ['array', 'empty', 'missing', 'null'],
  cost: ['number', 'integer', 'string', 'null', 'missing'],
  latency: ['seconds', 'ms_integer', 'string', 'null', 'missing'],
  timestamp: ['epoch_s', 'epoch_ms', 'iso', 'numeric_string', 'missing'],
  agentExtra: ['none', 'extra'],
  payloadExtra: ['none', 'extra'],
  wire: ['envelope', 'envelope_extra', 'bare'],
};
const STATUS_DIMS = {
  status: ['available', 'busy', 'offline', 'error', 'paused', 'maintenance', 'idle', 'degraded'],
  load: ['fraction', 'percent', 'string', 'integer', 'null', 'missing'],
  timestamp: ['missing', 'iso', 'epoch_ms', 'epoch_s'],
  agentId: ['missing', 'string', 'number'],
  error: ['missing', 'null', 'string', 'object'],
  extra: ['none', 'extra'],
  wire: ['envelope', 'envelope_extra', 'bare'],
};

function uuidFrom(rng) {
  const h = () => Math.floor(rng.next() * 0x10000).toString(16).padStart(4, '0');
  return `${h()}${h()}-${h()}-4${h().slice(1)}-a${h().slice(1)}-${h()}${h()}${h()}`;
}

function numberForm(form, value) {
  switch (form) {
    case 'number': case 'seconds': return value;
    case 'integer': return Math.max(1, Math.round(value * 100)); // e.g. cost in cents
    case 'ms_integer': return Math.round(value * 1000);
    case 'string': return String(value);
    case 'null': return null;
    case 'missing': return undefined;
    default: return value;
  }
}

function buildRoutingDecision(rng, c, seed, j, ms) {
  const a = AGENTS[(seed + j) % AGENTS.length];
  const n = 1000 + seed * 100 + j;
  const agent = { name: a.name };
  if (c.strengths === 'array') agent.strengths = a.strengths.slice();
  else if (c.strengths === 'empty') agent.strengths = [];
  else if (c.strengths === 'null') agent.strengths = null;
  const cost = Math.round(rng.next() * 1000) / 10000; // 0.0000..0.1
  const latency = Math.round(rng.next() * 3000) / 1000; // seconds
  put(agent, 'cost', numberForm(c.cost, cost));
  put(agent, 'latency', numberForm(c.latency, latency));
  if (c.agentExtra === 'extra') {
    agent.id = `agent-${(seed + j) % AGENTS.length}`;
    agent.model = 'fs-qmix-candidate';
    agent.provider = j % 2 ? 'local' : 'cloud';
    agent.qValue = Math.round(rng.next() * 1000) / 1000;
  }
  const payload = {};
  payload.taskId = c.taskId === 'number' ? n : c.taskId === 'numeric_string' ? String(n) : c.taskId === 'uuid' ? uuidFrom(rng) : `task-${n}`;
  payload.agent = agent;
  put(payload, 'timestamp', encodeTime(c.timestamp, ms));
  if (c.payloadExtra === 'extra') {
    payload.confidence = Math.round(rng.next() * 100) / 100;
    payload.reason = 'lowest expected cost under latency budget';
    payload.alternatives = [{ name: AGENTS[(seed + j + 1) % AGENTS.length].name, score: 0.41 }];
    payload.algorithm = 'FS-QMIX';
  }
  return payload;
}

function buildAgentStatus(rng, c, seed, j, ms) {
  const a = AGENTS[(seed + j) % AGENTS.length];
  const payload = { name: a.name, status: c.status };
  const fraction = Math.round(rng.next() * 100) / 100;
  let load;
  switch (c.load) {
    case 'fraction': load = fraction; break;
    case 'percent': load = Math.round(fraction * 100); break;
    case 'string': load = String(fraction); break;
    case 'integer': load = fraction >= 0.5 ? 1 : 0; break;
    case 'null': load = null; break;
    default: load = undefined;
  }
  put(payload, 'load', load);
  put(payload, 'timestamp', encodeTime(c.timestamp, ms));
  if (c.agentId === 'string') payload.agentId = `agent-${(seed + j) % AGENTS.length}`;
  else if (c.agentId === 'number') payload.agentId = (seed + j) % AGENTS.length;
  if (c.error === 'null') payload.error = null;
  else if (c.error === 'string') payload.error = 'heartbeat missed';
  else if (c.error === 'object') payload.error = { code: 'HEARTBEAT_TIMEOUT', message: 'heartbeat missed', since: new Date(ms - 5000).toISOString() };
  if (c.extra === 'extra') {
    payload.currentTasks = j % 4;
    payload.maxConcurrent = '4';
    payload.lastHeartbeat = new Date(ms - 1500).toISOString();
    payload.region = 'local';
  }
  return payload;
}

function buildScenario(seed, mode) {
  const rng = makeRng(seed);
  const base = scenarioBaseMs(seed);
  const items = [];
  const rc = planVariants(rng, ROUTING_DIMS, mode);
  rc.forEach((c, j) => items.push({ type: 'routing_decision', c, j }));
  const sc = planVariants(rng, STATUS_DIMS, mode);
  sc.forEach((c, j) => items.push({ type: 'agent_status', c, j }));
  const order = rng.shuffle(items);
  return order.map((it, i) => {
    const ms = base + i * 1000;
    const payload = it.type === 'routing_decision'
      ? buildRoutingDecision(rng, it.c, seed, it.j, ms)
      : buildAgentStatus(rng, it.c, seed, it.j, ms);
    const channel = CHANNEL_BY_TYPE[it.type];
    let message;
    if (it.c.wire === 'bare') message = payload;
    else if (it.c.wire === 'envelope_extra') {
      message = { type: it.type, payload, id: `evt-${seed}-${i}`, source: 'routing-engine', publishedAt: new Date(ms).toISOString() };
    } else message = { type: it.type, payload };
    const raw = JSON.stringify(message);
    // What the WS client will get: the raw envelope as-is, or the bare payload wrapped.
    const expectedWs = it.c.wire === 'bare' ? JSON.stringify({ type: it.type, payload }) : raw;
    return { index: i, type: it.type, channel, variant: it.c, raw, message: wire(message), expectedWs };
  });
}

async function runScenario(seed, mode, interval) {
  const plan = buildScenario(seed, mode);
  const results = [];
  for (const p of plan) {
    const echo = waitForEcho(p.raw, p.channel);
    const pubRec = await publish(p.channel, p.raw, { source: 'scenario', scenarioSeed: seed, type: p.type, variant: p.variant });
    const wsRec = await echo;
    if (wsRec) { wsRec.scenarioSeed = seed; wsRec.variant = p.variant; }
    results.push({ ...p, publishedSeq: pubRec.seq, broadcastSeq: wsRec ? wsRec.seq : null });
    if (interval > 0) await sleep(interval);
  }
  return results;
}

// ---------------------------------------------------------------- control API
const routes = {
  'GET /control/info': async () => ({
    server: 'routing', seed: args.seed, port: wsPort, controlPort,
    channels: { routing: CH_ROUTING, status: CH_STATUS }, redisUrl,
    clients: [...clients.values()].map(({ id, remotePort, path, connectedAt }) => ({ id, remotePort, path, connectedAt })),
  }),
  'GET /control/clients': async () => [...clients.values()].map(({ id, remotePort, path, connectedAt }) => ({ id, remotePort, path, connectedAt })),
  'GET /control/sent': async (req, url) => sent.list(url.searchParams),
  'GET /control/received': async (req, url) => received.list(url.searchParams),
  'POST /control/reset': async () => { sent.clear(); received.clear(); return { ok: true }; },
  'GET /control/scenario': async (req, url) => {
    const seed = qNum(url, 'seed', args.seed);
    return { seed, mode: qMode(url), messages: buildScenario(seed, qMode(url)) };
  },
  'POST /control/scenario': async (req, url) => {
    const seed = qNum(url, 'seed', args.seed);
    const mode = qMode(url);
    const messages = await runScenario(seed, mode, qNum(url, 'interval', 0));
    return { seed, mode, count: messages.length, clients: clients.size, messages };
  },
  'POST /control/emit': async (req) => {
    const body = await readJson(req);
    // {raw: "..."}: send this exact text frame to every client, bypassing Redis.
    if (typeof body.raw === 'string' && !body.channel) {
      return { broadcast: broadcast(body.raw, { source: 'emit' }) };
    }
    // {channel, message}: publish to Redis (message: string as-is, else JSON).
    // {type, payload, ...}: publish the object as an envelope on the type's channel.
    let channel = body.channel;
    let message = body.message !== undefined ? body.message : body.raw;
    if (message === undefined) {
      message = { ...body };
      delete message.channel;
      delete message.direct;
    }
    if (!channel) channel = CHANNEL_BY_TYPE[message && message.type];
    if (body.direct || !channel) {
      const text = typeof message === 'string' ? message : JSON.stringify(message);
      return { broadcast: broadcast(text, { source: 'emit' }) };
    }
    const raw = typeof message === 'string' ? message : JSON.stringify(message);
    const echo = waitForEcho(raw, channel, 3000);
    const published = await publish(channel, raw, { source: 'emit' });
    const broadcastRec = await echo;
    return { published, broadcast: broadcastRec };
  },
  'POST /control/drop': async (req, url) => {
    const graceful = url.searchParams.get('mode') === 'graceful';
    let n = 0;
    for (const ws of [...clients.keys()]) {
      n++;
      if (graceful) ws.close(1001, 'server drop'); else ws.terminate();
    }
    if (!graceful) for (const s of tcp) s.destroy();
    return { dropped: n, mode: graceful ? 'graceful' : 'abrupt' };
  },
};

// ---------------------------------------------------------------- start
let wsPort;
let controlPort;
try {
  await pub.connect();
  await sub.connect();
  await sub.subscribe([CH_ROUTING, CH_STATUS], onRedisMessage);
} catch (e) {
  console.error(`[routing] cannot reach Redis at ${redisUrl}: ${e.message}`);
  process.exit(2);
}
wsPort = await listen(httpServer, args.port);
const control = await startControlServer(args.controlPort, routes);
controlPort = control.address().port;
process.stdout.write(`LISTENING ${wsPort} ${controlPort}\n`);

onShutdown(async () => {
  for (const ws of clients.keys()) ws.terminate();
  for (const s of tcp) s.destroy();
  httpServer.close();
  control.close();
  await Promise.allSettled([sub.quit(), pub.quit()]);
});
