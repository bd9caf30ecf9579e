#!/usr/bin/env python3
"""Agent Forge WebSocket API, written from seed 004 (WebSocket Implementation Summary) alone.

FastAPI endpoints /ws/agents, /ws/tasks, /ws/knowledge, /ws/metrics, /ws/dashboard push
`{type, timestamp, data}` JSON events; ping/pong heartbeat; per-endpoint buffered queues
(default 1000); periodic metrics (5 s) and dashboard (10 s) broadcasts; GET /ws/stats and
GET /ws/client. See README-webgui-forge.md for the exact contract.

    python3 test/seeds/blind/forge_server.py --port 0 --seed 1   ->  LISTENING <port>
"""
import argparse
import asyncio
import collections
import itertools
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import webgui_forge_common as common  # noqa: E402

common.ensure_debian_python()

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect  # noqa: E402
from fastapi.responses import HTMLResponse, JSONResponse  # noqa: E402

ENDPOINTS = ["agents", "tasks", "knowledge", "metrics", "dashboard"]
FAMILIES = ("canonical", "loose", "sparse")
EVENT_ENDPOINT = {
    "agent_created": "agents", "status_changed": "agents", "agent_deleted": "agents",
    "task_started": "tasks", "task_progress": "tasks", "task_completed": "tasks", "task_failed": "tasks",
    "node_added": "knowledge", "edge_added": "knowledge", "knowledge_updated": "knowledge",
    "metrics_update": "metrics", "dashboard_update": "dashboard",
}
# Events of agents/tasks/knowledge also go to /ws/dashboard ("combined dashboard data").
TO_DASHBOARD = {"agents", "tasks", "knowledge"}
AGENT_STATUSES = ["idle", "active", "busy", "offline"]
EXTRA_AGENT_STATUSES = ["error", "paused", "waiting_for_feedback", "terminated"]
AGENT_TYPES = ["researcher", "coder", "reviewer", "planner", "tester", "analyst"]
METRIC_TYPES = ["system", "tasks", "agents", "custom"]


def ts_for(family, rng):
    if family == "canonical":
        return common.iso_naive()            # datetime.utcnow().isoformat()
    if family == "loose":
        return common.epoch()                # time.time()
    return rng.choice([common.iso_z, common.iso_offset])()


def num(family, v):
    return str(v) if family == "loose" else v


class Forge:
    """Deterministic little world the events are about."""

    def __init__(self, seed):
        self.rng = random.Random(seed * 104729 + 4)
        self.seed = seed

    def ids(self, family, kind, i):
        if family == "loose":
            return self.seed * 1000 + i + {"agent": 0, "task": 100, "node": 200, "edge": 300}[kind]
        if family == "sparse":
            return f"{kind[0]}-{self.seed:04x}-{i:04x}-{self.rng.randrange(16**6):06x}"
        return f"{kind}_{self.seed}_{i}"


def build_event(type_, family, rng, ids, k, metric_type=None):
    """One event message {type, timestamp, data} (plus extras in the sparse family)."""
    sparse, loose = family == "sparse", family == "loose"
    agent_id, task_id = ids["agent"], ids["task"]

    def opt(d, *keys):
        for key in keys:
            if sparse:
                d.pop(key, None)
            elif loose:
                d[key] = None
        return d

    if type_ == "agent_created":
        data = {"agent_id": agent_id, "name": f"{rng.choice(AGENT_TYPES)}-{k}",
                "agent_type": rng.choice(AGENT_TYPES), "status": "idle",
                "capabilities": rng.sample(["search", "code", "review", "plan", "test"], 2),
                "created_at": common.iso_naive()}
        opt(data, "capabilities", "created_at")
    elif type_ == "status_changed":
        new = rng.choice(EXTRA_AGENT_STATUSES) if sparse else rng.choice(AGENT_STATUSES[1:])
        data = {"agent_id": agent_id, "old_status": "idle", "new_status": new,
                "reason": rng.choice(["task assigned", "manual", "health check"])}
        opt(data, "old_status", "reason")
    elif type_ == "agent_deleted":
        data = {"agent_id": agent_id, "reason": "removed by user"}
        opt(data, "reason")
    elif type_ == "task_started":
        data = {"task_id": task_id, "agent_id": agent_id,
                "description": rng.choice(["Analyse repository", "Write unit tests", "Summarise paper"]),
                "started_at": common.iso_naive()}
        opt(data, "description", "started_at")
    elif type_ == "task_progress":
        p = rng.randint(1, 99)
        data = {"task_id": task_id, "progress": (p + 0.5) if sparse else num(family, p),
                "message": f"processing step {k}", "current_step": num(family, rng.randint(1, 9))}
        opt(data, "message", "current_step")
    elif type_ == "task_completed":
        data = {"task_id": task_id, "agent_id": agent_id,
                "result": {"summary": "done", "items": rng.randint(1, 9)} if not loose else "done",
                "duration_seconds": num(family, round(rng.uniform(0.1, 60), 3))}
        opt(data, "agent_id", "duration_seconds")
    elif type_ == "task_failed":
        data = {"task_id": task_id, "agent_id": agent_id, "error": "TimeoutError: agent did not respond",
                "error_type": "TimeoutError", "traceback": "Traceback (most recent call last):\n  ..."}
        opt(data, "agent_id", "error_type", "traceback")
    elif type_ == "node_added":
        data = {"node_id": ids["node"], "node_type": rng.choice(["concept", "entity", "document"]),
                "label": rng.choice(["Transformer", "Redis", "FastAPI", "Graph"]),
                "properties": {"source": "crawler", "confidence": num(family, round(rng.random(), 2))}}
        opt(data, "properties")
    elif type_ == "edge_added":
        data = {"edge_id": ids["edge"], "source_id": ids["node"], "target_id": ids["node2"],
                "relation": rng.choice(["related_to", "depends_on", "part_of"]),
                "weight": num(family, round(rng.uniform(0, 1), 2))}
        opt(data, "edge_id", "weight")
        if sparse:
            data["node_ids"] = [ids["node"], ids["node2"]]      # hyperedge form, extra field
    elif type_ == "knowledge_updated":
        data = {"node_count": num(family, rng.randint(10, 500)), "edge_count": num(family, rng.randint(10, 900)),
                "change": rng.choice(["nodes_added", "edges_added", "merged", "pruned"])}
        opt(data, "change")
    elif type_ == "metrics_update":
        mt = metric_type or "system"
        if mt == "system":
            m = {"cpu_percent": num(family, round(rng.uniform(0, 100), 1)),
                 "memory_percent": num(family, round(rng.uniform(0, 100), 1)),
                 "uptime_seconds": num(family, rng.randint(10, 100000))}
        elif mt == "tasks":
            m = {"total": num(family, rng.randint(0, 100)), "running": num(family, rng.randint(0, 10)),
                 "completed": num(family, rng.randint(0, 80)), "failed": num(family, rng.randint(0, 5)),
                 "avg_duration_seconds": num(family, round(rng.uniform(0, 30), 2))}
        elif mt == "agents":
            m = {"total": num(family, rng.randint(1, 90)), "active": num(family, rng.randint(0, 20)),
                 "idle": num(family, rng.randint(0, 70))}
        else:
            m = {"name": "custom.queue_latency_ms", "value": num(family, round(rng.uniform(0, 50), 2)), "unit": "ms"}
        data = {"metric_type": mt, "metrics": m, "interval_seconds": num(family, 5)}
        opt(data, "interval_seconds")
    elif type_ == "dashboard_update":
        data = {"agents": {"total": num(family, rng.randint(1, 90)), "active": num(family, rng.randint(0, 20)),
                           "by_status": {"idle": 3, "busy": 2, ("error" if sparse else "offline"): 1}},
                "tasks": {"total": num(family, rng.randint(0, 100)), "running": num(family, rng.randint(0, 10)),
                          "completed": num(family, rng.randint(0, 80)), "failed": num(family, rng.randint(0, 5))},
                "knowledge": {"nodes": num(family, rng.randint(0, 500)), "edges": num(family, rng.randint(0, 900))},
                "metrics": {"cpu_percent": num(family, round(rng.uniform(0, 100), 1)),
                            "memory_percent": num(family, round(rng.uniform(0, 100), 1))},
                "recent_events": [{"type": "task_completed", "task_id": task_id}]}
        opt(data, "knowledge", "recent_events")
    else:
        raise ValueError(type_)
    msg = {"type": type_, "timestamp": ts_for(family, rng), "data": data}
    if sparse:
        msg["channel"] = EVENT_ENDPOINT[type_]            # extra top-level fields
        msg["event_id"] = f"evt-{rng.randrange(16**8):08x}"
        data["_source"] = rng.choice(["core", "event_integration"])
    return msg


def scenario_events(seed):
    rng = random.Random(seed)
    forge = Forge(seed)
    out = []
    fams = list(FAMILIES)
    rng.shuffle(fams)
    for fi, family in enumerate(fams):
        ids = {"agent": forge.ids(family, "agent", fi * 2), "task": forge.ids(family, "task", fi * 2),
               "node": forge.ids(family, "node", fi * 2), "node2": forge.ids(family, "node", fi * 2 + 1),
               "edge": forge.ids(family, "edge", fi)}
        seq = (["agent_created", "status_changed", "task_started", "task_progress", "task_progress",
                "task_completed", "task_failed", "node_added", "node_added", "edge_added",
                "knowledge_updated"]
               + [("metrics_update", mt) for mt in METRIC_TYPES]
               + ["dashboard_update", "agent_deleted"])
        for k, item in enumerate(seq):
            t, mt = (item if isinstance(item, tuple) else (item, None))
            out.append({"family": family, "message": build_event(t, family, rng, ids, k, mt)})
    return out


HTML_CLIENT = """<!doctype html><html><head><title>Agent Forge WebSocket test client</title></head>
<body><h1>Agent Forge WebSocket test client</h1>
<div id="controls"></div><button onclick="pingAll()">Ping</button><pre id="log"></pre>
<script>
const eps = ["agents","tasks","knowledge","metrics","dashboard"]; const socks = {};
function log(s){const l=document.getElementById('log'); l.textContent = s + "\\n" + l.textContent.slice(0, 20000);}
for (const ep of eps) {
  const ws = new WebSocket((location.protocol==='https:'?'wss://':'ws://') + location.host + '/ws/' + ep);
  ws.onmessage = (e) => { const m = JSON.parse(e.data); if (m.type==='ping') ws.send(JSON.stringify({type:'pong'})); log(ep + ': ' + e.data); };
  ws.onclose = (e) => log(ep + ' closed ' + e.code); socks[ep] = ws;
}
function pingAll(){ for (const ep of eps) if (socks[ep].readyState===1) socks[ep].send(JSON.stringify({type:'ping'})); }
</script></body></html>"""


def create_app(args):
    app = FastAPI(title="Agent Forge (seed 004 emulation)")
    sent = common.SentLog()
    conns = {ep: {} for ep in ENDPOINTS}
    queues = {ep: collections.deque(maxlen=args.queue_size) for ep in ENDPOINTS}
    counters = {"messages_sent": 0, "messages_failed": 0, "messages_queued": 0, "messages_dropped": 0,
                "total_connections_ever": 0}
    started = time.time()
    ids = itertools.count(1)
    cfg = {"heartbeat": args.heartbeat, "dead_after": args.dead_after}
    tick = {"metrics": 0, "dashboard": 0}
    pstyle = [common.iso_naive, common.epoch, common.iso_z][args.seed % 3]

    def proto(type_, data=None):
        m = {"type": type_, "timestamp": pstyle()}
        if data is not None:
            m["data"] = data
        return m

    async def writer(conn):
        while True:
            item = await conn["queue"].get()
            if item is None:
                return
            text, kind = item
            try:
                await conn["ws"].send_text(text)
                counters["messages_sent"] += 1
                sent.add(kind=kind, endpoint=f"/ws/{conn['endpoint']}", conn=conn["id"], json=text)
            except Exception as e:  # noqa: BLE001 - dead connection: count it and clean up
                counters["messages_failed"] += 1
                sent.add(kind="failed", endpoint=f"/ws/{conn['endpoint']}", conn=conn["id"], json=text, error=repr(e))
                conns[conn["endpoint"]].pop(conn["id"], None)
                return

    def push(conn, obj_or_text, kind="ws"):
        text = obj_or_text if isinstance(obj_or_text, str) else common.dumps(obj_or_text)
        conn["queue"].put_nowait((text, kind))

    def send_endpoint(ep, text, queue_if_empty=True, client_id=None):
        """Broadcast text to every connection of /ws/{ep}; with none connected, buffer it."""
        targets = list(conns[ep].values())
        if client_id is not None:
            targets = [c for c in targets if c["id"] == client_id]
        if not targets:
            if queue_if_empty and client_id is None:
                if len(queues[ep]) == queues[ep].maxlen:
                    counters["messages_dropped"] += 1
                queues[ep].append(text)
                counters["messages_queued"] += 1
                sent.add(kind="queued", endpoint=f"/ws/{ep}", json=text)
            return 0
        for c in targets:
            push(c, text)
        return len(targets)

    def emit(msg_or_text, endpoint=None, queue_if_empty=True):
        text = msg_or_text if isinstance(msg_or_text, str) else common.dumps(msg_or_text)
        if endpoint is None:
            ep = EVENT_ENDPOINT.get(msg_or_text.get("type"), "dashboard")
            eps = [ep] + (["dashboard"] if ep in TO_DASHBOARD else [])
        else:
            eps = [endpoint]
        return {f"/ws/{ep}": send_endpoint(ep, text, queue_if_empty) for ep in eps}, text

    async def periodic(kind, interval_key):
        rng = random.Random(args.seed * 31 + (1 if kind == "metrics" else 2))
        forge = Forge(args.seed)
        while True:
            interval = getattr(args, interval_key)
            await asyncio.sleep(interval if interval > 0 else 1.0)
            if interval <= 0:
                continue
            ep = kind
            if not conns[ep]:
                continue                                   # periodic broadcasts are not buffered
            n = tick[kind]
            tick[kind] += 1
            fam = FAMILIES[n % 3]
            ids_ = {"agent": forge.ids(fam, "agent", 50), "task": forge.ids(fam, "task", 50),
                    "node": forge.ids(fam, "node", 50), "node2": forge.ids(fam, "node", 51),
                    "edge": forge.ids(fam, "edge", 50)}
            if kind == "metrics":
                for mt in METRIC_TYPES:
                    emit(build_event("metrics_update", fam, rng, ids_, n, mt), endpoint="metrics", queue_if_empty=False)
            else:
                emit(build_event("dashboard_update", fam, rng, ids_, n), endpoint="dashboard", queue_if_empty=False)

    async def heartbeat():
        while True:
            hb = cfg["heartbeat"]
            await asyncio.sleep(hb if hb > 0 else 1.0)
            if hb <= 0:
                continue
            now = time.time()
            dead_after = cfg["dead_after"] if cfg["dead_after"] > 0 else 3 * hb
            for ep in ENDPOINTS:
                for c in list(conns[ep].values()):
                    if now - c["last_seen"] > dead_after:
                        conns[ep].pop(c["id"], None)
                        sent.add(kind="closed", endpoint=f"/ws/{ep}", conn=c["id"], code=4000, reason="heartbeat timeout")
                        try:
                            await c["ws"].close(code=4000, reason="heartbeat timeout")
                        except Exception:  # noqa: BLE001
                            pass
                        continue
                    push(c, proto("ping"))

    tasks = []

    @app.on_event("startup")
    async def startup():
        tasks.append(asyncio.ensure_future(periodic("metrics", "metrics_interval")))
        tasks.append(asyncio.ensure_future(periodic("dashboard", "dashboard_interval")))
        tasks.append(asyncio.ensure_future(heartbeat()))

    @app.on_event("shutdown")
    async def shutdown():
        for t in tasks:
            t.cancel()

    def stats():
        by_ep = {ep: len(conns[ep]) for ep in ENDPOINTS}
        return {"total_connections": sum(by_ep.values()), "connections_by_endpoint": by_ep,
                "messages_sent": counters["messages_sent"], "messages_failed": counters["messages_failed"],
                "messages_queued": counters["messages_queued"], "messages_dropped": counters["messages_dropped"],
                "queue_sizes": {ep: len(queues[ep]) for ep in ENDPOINTS}, "max_queue_size": args.queue_size,
                "heartbeat_interval": cfg["heartbeat"], "total_connections_ever": counters["total_connections_ever"],
                "uptime_seconds": round(time.time() - started, 3), "timestamp": common.iso_naive()}

    def make_ws_route(ep):
        async def route(ws: WebSocket):
            await ws.accept()
            cid = f"{ep}-{next(ids)}"
            conn = {"id": cid, "endpoint": ep, "ws": ws, "queue": asyncio.Queue(), "last_seen": time.time()}
            w = asyncio.ensure_future(writer(conn))
            counters["total_connections_ever"] += 1
            push(conn, proto("connection_established", {"client_id": cid, "endpoint": ep,
                                                        "heartbeat_interval": cfg["heartbeat"]}))
            while queues[ep]:                               # buffered while nobody listened
                push(conn, queues[ep].popleft(), kind="ws")
            if ep == "dashboard":                           # initial snapshot
                rng = random.Random(args.seed * 17 + counters["total_connections_ever"])
                f = Forge(args.seed)
                ids_ = {"agent": f.ids("canonical", "agent", 0), "task": f.ids("canonical", "task", 0),
                        "node": None, "node2": None, "edge": None}
                push(conn, build_event("dashboard_update", "canonical", rng, ids_, 0))
            conns[ep][cid] = conn
            try:
                while True:
                    text = await ws.receive_text()
                    conn["last_seen"] = time.time()
                    if text.strip().lower() == "ping":
                        push(conn, proto("pong"))
                        continue
                    try:
                        msg = json.loads(text)
                    except ValueError:
                        push(conn, proto("error", {"message": "Invalid JSON"}))
                        continue
                    t = msg.get("type") if isinstance(msg, dict) else None
                    if t == "ping":
                        push(conn, proto("pong"))
                    elif t == "pong":
                        pass
                    elif t == "get_stats":
                        push(conn, proto("stats", stats()))
                    else:
                        push(conn, proto("error", {"message": f"Unknown message type: {t}"}))
            except WebSocketDisconnect:
                pass
            except Exception:  # noqa: BLE001
                pass
            finally:
                conns[ep].pop(cid, None)
                conn["queue"].put_nowait(None)
                w.cancel()
        route.__name__ = f"ws_{ep}"
        return route

    for ep in ENDPOINTS:
        app.add_api_websocket_route(f"/ws/{ep}", make_ws_route(ep))

    @app.get("/ws/stats")
    async def ws_stats():
        return stats()

    @app.get("/ws/client")
    async def ws_client():
        return HTMLResponse(HTML_CLIENT)

    # ---- control API ---------------------------------------------------------------------------
    @app.post("/control/scenario")
    async def control_scenario(seed: int = None):
        seed = args.seed if seed is None else seed
        items = scenario_events(seed)
        for it in items:
            delivered, text = emit(it["message"])
            it["json"] = text
            it["delivered"] = delivered
            it["endpoints"] = list(delivered)
        return {"seed": seed, "count": len(items), "messages": items}

    @app.get("/control/sent")
    async def control_sent(since: int = 0):
        return sent.since(since)

    @app.post("/control/reset")
    async def control_reset():
        sent.clear()
        for q in queues.values():
            q.clear()
        return {"ok": True}

    @app.post("/control/emit")
    async def control_emit(request: Request):
        body = await request.json()
        ep = body.get("endpoint")
        if isinstance(ep, str):
            ep = ep.rsplit("/", 1)[-1]
        if ep not in ENDPOINTS:
            return JSONResponse({"detail": f"endpoint must be one of {ENDPOINTS}"}, status_code=400)
        if "raw" in body:
            text = body["raw"]
        elif "message" in body:
            text = common.dumps(body["message"])
        else:
            return JSONResponse({"detail": "message or raw required"}, status_code=400)
        n = send_endpoint(ep, text, queue_if_empty=body.get("queue", True), client_id=body.get("client_id"))
        return {"endpoint": f"/ws/{ep}", "receivers": n, "json": text}

    @app.post("/control/drop")
    async def control_drop(mode: str = "abort", code: int = 1012):
        n = 0
        for ep in ENDPOINTS:
            for c in list(conns[ep].values()):
                n += 1
                conns[ep].pop(c["id"], None)
                if mode == "abort" and common.abort_websocket(c["ws"]):
                    continue
                try:
                    await c["ws"].close(code=code)
                except Exception:  # noqa: BLE001
                    pass
        return {"dropped": n, "mode": mode}

    @app.post("/control/heartbeat")
    async def control_heartbeat(interval: float, dead_after: float = 0):
        cfg["heartbeat"], cfg["dead_after"] = interval, dead_after
        return cfg

    @app.post("/control/intervals")
    async def control_intervals(metrics: float = None, dashboard: float = None):
        if metrics is not None:
            args.metrics_interval = metrics
        if dashboard is not None:
            args.dashboard_interval = dashboard
        return {"metrics_interval": args.metrics_interval, "dashboard_interval": args.dashboard_interval}

    @app.get("/control/connections")
    async def control_connections():
        return [{"id": c["id"], "endpoint": f"/ws/{ep}"} for ep in ENDPOINTS for c in conns[ep].values()]

    return app


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--heartbeat", type=float, default=30.0, help="seconds between server pings; 0 = off")
    ap.add_argument("--dead-after", type=float, default=0, help="close a silent client after this long (0 = 3 x heartbeat)")
    ap.add_argument("--metrics-interval", type=float, default=5.0, help="0 = no periodic metrics")
    ap.add_argument("--dashboard-interval", type=float, default=10.0, help="0 = no periodic dashboard")
    ap.add_argument("--queue-size", type=int, default=1000)
    args = ap.parse_args()
    common.serve(create_app(args), args.port)


if __name__ == "__main__":
    main()
