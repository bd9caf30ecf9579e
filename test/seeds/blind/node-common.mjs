// Shared plumbing for the Node seed emulations (routing, rooms, progress).
// Plain JavaScript, no agentwire imports. Written from the seed documents alone.
import http from 'node:http';

export const HOST = '127.0.0.1';

/** --port P --control-port C --seed N plus any --flag value / --flag pairs. */
export function parseArgs(argv) {
  const out = { port: 0, controlPort: 0, seed: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    let key = a.slice(2);
    let val;
    const eq = key.indexOf('=');
    if (eq >= 0) { val = key.slice(eq + 1); key = key.slice(0, eq); }
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) val = argv[++i];
    else val = 'true';
    const camel = key.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    out[camel] = val;
  }
  out.port = Number(out.port) || 0;
  out.controlPort = Number(out.controlPort) || 0;
  out.seed = Number.isFinite(Number(out.seed)) ? Number(out.seed) : 1;
  return out;
}

/** mulberry32: small deterministic PRNG. */
export function makeRng(seed) {
  let a = (Number(seed) >>> 0) ^ 0x9e3779b9;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    shuffle: (arr) => {
      const a2 = arr.slice();
      for (let i = a2.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [a2[i], a2[j]] = [a2[j], a2[i]];
      }
      return a2;
    },
  };
}

/**
 * Variant plan for one message type.
 * dims: { dimName: [variant, ...] }.
 * mode 'mixed': returns max(k) combos; each dimension cycles through a seeded
 *   permutation of its variants, so every variant of every dimension appears
 *   at least once.
 * mode 'consistent': returns `repeat` combos that all use the same variant per
 *   dimension (picked by the seed), like a real backend with one house style.
 */
export function planVariants(rng, dims, mode = 'mixed', repeat = 2) {
  const names = Object.keys(dims);
  const perms = {};
  const offs = {};
  for (const n of names) { perms[n] = rng.shuffle(dims[n]); offs[n] = 0; }
  if (mode === 'consistent') {
    const one = {};
    for (const n of names) one[n] = perms[n][0];
    return Array.from({ length: repeat }, () => ({ ...one }));
  }
  const k = Math.max(1, ...names.map((n) => dims[n].length));
  const combos = [];
  for (let j = 0; j < k; j++) {
    const c = {};
    for (const n of names) c[n] = perms[n][j % perms[n].length];
    combos.push(c);
  }
  return combos;
}

/** Deterministic base time for scenario timestamps: 2026-01-01T00:00:00Z + seed days. */
export function scenarioBaseMs(seed) {
  return Date.UTC(2026, 0, 1) + (Math.abs(Number(seed)) % 3650) * 86400000;
}

/**
 * Timestamp encodings. Returns undefined for 'missing' (caller deletes the key)
 * and null for 'null'.
 */
export function encodeTime(form, ms) {
  switch (form) {
    case 'iso': return new Date(ms).toISOString();
    case 'epoch_ms': return ms;
    case 'epoch_s': return Math.floor(ms / 1000);
    case 'numeric_string': return String(ms);
    case 'null': return null;
    case 'missing': return undefined;
    default: return new Date(ms).toISOString();
  }
}

/** Set obj[key] = val, or delete the key when val === undefined (a missing field). */
export function put(obj, key, val) {
  if (val === undefined) delete obj[key];
  else obj[key] = val;
  return obj;
}

/** Deep copy through JSON, i.e. exactly what goes over the wire. */
export function wire(v) {
  return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
}

export class Log {
  constructor() { this.items = []; this.seq = 0; }
  push(rec) {
    const r = { seq: ++this.seq, at: Date.now(), ...rec };
    this.items.push(r);
    if (this.items.length > 20000) this.items.splice(0, this.items.length - 20000);
    return r;
  }
  list(query) {
    let out = this.items;
    const since = Number(query.get('since'));
    if (Number.isFinite(since) && query.has('since')) out = out.filter((r) => r.seq > since);
    for (const k of ['via', 'event', 'type', 'channel', 'room', 'source']) {
      if (query.has(k)) out = out.filter((r) => String(r[k]) === query.get(k));
    }
    return out;
  }
  clear() { this.items = []; }
}

export function readBody(req) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    req.on('data', (c) => {
      size += c.length;
      if (size > 4 * 1024 * 1024) { reject(new Error('body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function readJson(req) {
  const text = await readBody(req);
  if (!text.trim()) return {};
  return JSON.parse(text);
}

export function sendJson(res, status, body) {
  const text = JSON.stringify(body, null, 0);
  res.writeHead(status, {
    'content-type': 'application/json',
    'access-control-allow-origin': '*',
    'cache-control': 'no-store',
  });
  res.end(text);
}

/**
 * Control HTTP server. routes: { 'GET /control/sent': async (req, url, res) => body }.
 * A handler returning undefined must have answered itself.
 */
export function startControlServer(port, routes) {
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'access-control-allow-origin': '*',
        'access-control-allow-methods': 'GET,POST,OPTIONS',
        'access-control-allow-headers': 'content-type',
      });
      res.end();
      return;
    }
    const h = routes[`${req.method} ${url.pathname}`];
    if (!h) { sendJson(res, 404, { error: `no route ${req.method} ${url.pathname}` }); return; }
    try {
      const body = await h(req, url, res);
      if (body !== undefined && !res.headersSent) sendJson(res, 200, body);
    } catch (err) {
      if (!res.headersSent) sendJson(res, 400, { error: String(err && err.message || err) });
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => resolve(server));
  });
}

/** Track raw TCP sockets of an http server so /control/drop can destroy them. */
export function trackSockets(server) {
  const set = new Set();
  server.on('connection', (s) => {
    set.add(s);
    s.on('close', () => set.delete(s));
  });
  return set;
}

export function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => resolve(server.address().port));
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function onShutdown(fn) {
  let done = false;
  const go = async () => {
    if (done) return;
    done = true;
    try { await fn(); } catch { /* ignore */ }
    process.exit(0);
  };
  process.on('SIGTERM', go);
  process.on('SIGINT', go);
}

/** Query param helpers. */
export function qNum(url, key, dflt) {
  const v = url.searchParams.get(key);
  if (v === null || v === '') return dflt;
  const n = Number(v);
  return Number.isFinite(n) ? n : dflt;
}

export function qMode(url) {
  const m = url.searchParams.get('mode');
  return m === 'consistent' ? 'consistent' : 'mixed';
}
