#!/usr/bin/env python3
"""webgui backend, written from seed 001 (ADR-002: Redis Pub/Sub + FastAPI WebSocket) alone.

Agents publish `{type, timestamp, session_id, data}` JSON to Redis channels
`webgui:session:{id}`, `webgui:agent:{name}`, `webgui:global`, `webgui:user:{id}`. This server
pattern-subscribes to `webgui:*`, and pushes each message, verbatim, to every WebSocket client
that subscribed to that channel and is allowed to see it. A polling endpoint serves the same
messages when WebSocket is unavailable. See README-webgui-forge.md for the exact contract.

    python3 test/seeds/blind/webgui_server.py --port 0 --seed 1   ->  LISTENING <port>
"""
import argparse
import asyncio
import itertools
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import webgui_forge_common as common  # noqa: E402

common.ensure_debian_python()

import redis.asyncio as aioredis  # noqa: E402
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402

FAMILIES = ("canonical", "loose", "sparse")
KNOWN_SESSION_STATUSES = ["pending", "running", "testing", "completed", "failed"]
EXTRA_SESSION_STATUSES = ["error", "paused", "waiting_for_feedback", "cancelled", "timeout"]
AGENT_STATUSES = ["idle", "busy", "offline"]
EXTRA_AGENT_STATUSES = ["error", "paused", "waiting_for_feedback", "degraded"]
AGENT_NAMES = ["ui_tester", "code-reviewer", "planner", "api_tester", "security.scanner",
               "orchestrator", "doc_writer", "perf-tester"]
REDIS_TYPES = ["session_status_changed", "task_progress", "test_result", "user_joined",
               "user_left", "agent_status_changed", "notification", "metrics_update"]

# Static users. Permissions: "agents:read" lets a user subscribe to webgui:agent:*; role admin
# may subscribe to anything. Session channels follow the session ACL (owner + collaborators).
USERS = {
    "admin": {"user_id": "admin", "username": "admin", "role": "admin", "permissions": ["agents:read"], "token": "token-admin"},
    "alice": {"user_id": "alice", "username": "alice", "role": "user", "permissions": ["agents:read"], "token": "token-alice"},
    "bob": {"user_id": "bob", "username": "bob", "role": "user", "permissions": [], "token": "token-bob"},
    "7": {"user_id": "7", "username": "carol", "role": "viewer", "permissions": [], "token": "token-carol"},
}
TOKENS = {u["token"]: uid for uid, u in USERS.items()}


def seed_world(seed):
    """Sessions, agents and tasks of a scenario: a function of the seed only."""
    rng = random.Random(seed * 7919 + 1)
    agents = rng.sample(AGENT_NAMES, 2)
    return {
        "session_a": f"sess_{seed}_a",       # string id, owner alice, collaborator bob
        "session_b": 1000 + seed,            # numeric id, owner alice only
        "agents": agents,
        "task_ids": [f"task_{seed}_{i}" for i in range(3)],
        "task_int_ids": [seed * 100 + i for i in range(3)],
    }


def default_acl(seed):
    w = seed_world(seed)
    return {
        str(w["session_a"]): {"owner": "alice", "collaborators": ["bob"]},
        str(w["session_b"]): {"owner": "alice", "collaborators": []},
    }


class State:
    def __init__(self, args):
        self.args = args
        self.seed = args.seed
        self.prefix = args.channel_prefix
        self.sent = common.SentLog()
        self.conns = {}
        self.conn_ids = itertools.count(1)
        self.acl = default_acl(args.seed)
        self.ws_enabled = True
        self.heartbeat = args.heartbeat
        self.history = []  # [{seq, channel, raw, message}] for polling
        self.hist_seq = 0
        self.redis_pub = None
        self.listener = None
        self.hb_task = None

    # ---- permissions -------------------------------------------------------------------------
    def allowed(self, user_id, channel):
        user = USERS.get(user_id)
        if user is None:
            return False
        if user["role"] == "admin":
            return channel.startswith("webgui:")
        if channel == "webgui:global":
            return True
        if channel.startswith("webgui:user:"):
            return channel[len("webgui:user:"):] == user_id
        if channel.startswith("webgui:agent:"):
            return "agents:read" in user["permissions"]
        if channel.startswith("webgui:session:"):
            acl = self.acl.get(channel[len("webgui:session:"):])
            return acl is not None and (acl["owner"] == user_id or user_id in acl["collaborators"])
        return False


def valid_channel(ch):
    if not isinstance(ch, str):
        return False
    if ch == "webgui:global":
        return True
    for p in ("webgui:session:", "webgui:agent:", "webgui:user:"):
        if ch.startswith(p) and len(ch) > len(p):
            return True
    return False


def protocol_ts(state):
    return [common.iso_z, common.epoch, common.iso_offset][state.seed % 3]()


def envelope(state, type_, data, session_id=None):
    return {"type": type_, "timestamp": protocol_ts(state), "session_id": session_id, "data": data}


# ---- scenario ------------------------------------------------------------------------------------
def ts_for(family, rng):
    if family == "canonical":
        return common.iso_z()
    if family == "loose":
        return common.epoch()
    return rng.choice([common.iso_offset, common.iso_naive])()


def num(family, value):
    """Numbers stay numbers except in the loose family, where they are JSON strings."""
    return str(value) if family == "loose" else value


def build_message(type_, family, rng, world, k, target="global"):
    """Return (channel, message) for one message of `type_` in `family`. k = index for variety."""
    sa, sb = world["session_a"], world["session_b"]
    agent = world["agents"][k % 2]
    if family == "canonical":
        sess_channel_id, session_id = sa, sa
    elif family == "loose":
        sess_channel_id, session_id = sb, sb                     # int session_id
    else:
        pick = rng.choice([sa, sb])
        sess_channel_id, session_id = pick, str(pick)            # numeric id as a string
    task_id = world["task_int_ids"][k % 3] if family == "loose" else world["task_ids"][k % 3]
    ts = ts_for(family, rng)
    sparse = family == "sparse"
    opt_null = family == "loose"

    def drop(d, *keys):
        # sparse: optional keys missing; loose: optional keys null
        for key in keys:
            if sparse:
                d.pop(key, None)
            elif opt_null:
                d[key] = None
        return d

    channel = None
    if type_ == "session_status_changed":
        status = (rng.choice(EXTRA_SESSION_STATUSES) if sparse else
                  rng.choice(KNOWN_SESSION_STATUSES))
        if family == "canonical" and k == 0:
            status = "testing"
        prog = rng.randint(0, 100)
        data = {"status": status, "progress": num(family, prog) if not sparse else prog + 0.5,
                "message": rng.choice(["Executing UI tests...", "Preparing environment", "Waiting for input"])}
        data = drop(data, "message")
        channel = f"webgui:session:{sess_channel_id}"
    elif type_ == "task_progress":
        step = rng.randint(1, 5)
        data = {"task_id": task_id, "agent": agent, "progress": num(family, rng.randint(0, 100)),
                "message": f"step {step} of 5", "step": num(family, step), "total_steps": num(family, 5)}
        data = drop(data, "message", "step", "total_steps")
        channel = f"webgui:session:{sess_channel_id}"
    elif type_ == "test_result":
        status = rng.choice(["flaky", "error", "timeout"]) if sparse else rng.choice(["passed", "failed", "skipped"])
        data = {"test_name": rng.choice(["test_login_flow", "test_checkout", "test_search"]),
                "status": status, "duration_ms": num(family, rng.randint(5, 5000)),
                "error": "AssertionError: expected 200, got 500" if status != "passed" else None,
                "screenshot_url": f"/artifacts/{sess_channel_id}/shot{k}.png"}
        data = drop(data, "error", "screenshot_url")
        channel = f"webgui:session:{sess_channel_id}"
    elif type_ in ("user_joined", "user_left"):
        uid = {"canonical": "alice", "loose": 7, "sparse": "bob"}[family]
        data = {"user_id": uid, "username": {"alice": "alice", 7: "carol", "bob": "bob"}[uid]}
        data = drop(data, "username")
        channel = f"webgui:session:{sess_channel_id}"
    elif type_ == "agent_status_changed":
        status = rng.choice(EXTRA_AGENT_STATUSES) if sparse else rng.choice(AGENT_STATUSES)
        data = {"agent": agent, "status": status, "current_task": task_id if status != "idle" else None}
        data = drop(data, "current_task")
        channel = f"webgui:agent:{agent}"
        # agent messages are not about one session: null (canonical), the session it works in
        # (loose), absent (sparse)
        session_id = None if family == "canonical" else (sb if family == "loose" else None)
    elif type_ == "notification":
        level = rng.choice(["critical", "debug"]) if sparse else rng.choice(["info", "warning", "error", "success"])
        data = {"level": level, "title": rng.choice(["Deployment finished", "Maintenance window", "Report ready"]),
                "message": "See the dashboard for details", "link": "/dashboard"}
        data = drop(data, "link", "title")
        if target == "user":
            uid = {"canonical": "alice", "loose": "7", "sparse": "bob"}[family]
            channel = f"webgui:user:{uid}"
        else:
            channel = "webgui:global"
        session_id = None
    elif type_ == "metrics_update":
        data = {"active_sessions": num(family, rng.randint(0, 20)), "active_agents": num(family, rng.randint(0, 9)),
                "queue_depth": num(family, rng.randint(0, 50)),
                "cpu_percent": num(family, round(rng.uniform(0, 100), 1)),
                "memory_mb": num(family, rng.randint(100, 4000))}
        data = drop(data, "queue_depth", "memory_mb")
        channel = "webgui:global"
        session_id = None
    else:
        raise ValueError(type_)

    msg = {"type": type_, "timestamp": ts, "session_id": session_id, "data": data}
    if sparse:
        if session_id is None:
            del msg["session_id"]                       # absent, not null
        msg["source"] = rng.choice(["agent", "orchestrator"])   # extra top-level fields
        msg["seq"] = k
        data["_trace_id"] = f"tr-{rng.randrange(16**8):08x}"   # extra data field
    return channel, msg


def scenario_messages(seed):
    rng = random.Random(seed)
    world = seed_world(seed)
    out = []
    k = 0
    for family in FAMILIES:
        for type_ in REDIS_TYPES:
            if type_ == "notification":
                for target in ("global", "user"):       # both channels carry notifications
                    ch, msg = build_message(type_, family, rng, world, k, target)
                    out.append({"family": family, "channel": ch, "message": msg})
                    k += 1
                continue
            for _ in range(2 if type_ == "session_status_changed" else 1):
                ch, msg = build_message(type_, family, rng, world, k)
                out.append({"family": family, "channel": ch, "message": msg})
                k += 1
    # Ordering across channels is not guaranteed (seed: Consequences/Negative): shuffle per seed.
    rng.shuffle(out)
    return out


# ---- app -----------------------------------------------------------------------------------------
def create_app(args):
    app = FastAPI(title="webgui (seed 001 emulation)")
    st = State(args)
    app.state.st = st

    async def conn_writer(conn):
        ws = conn["ws"]
        while True:
            item = await conn["queue"].get()
            if item is None:
                return
            text, channel, session_id = item
            try:
                await ws.send_text(text)
                st.sent.add(kind="ws", endpoint="/ws", conn=conn["id"], user_id=conn["user_id"],
                            channel=channel, session_id=session_id, json=text)
            except Exception as e:  # noqa: BLE001
                st.sent.add(kind="failed", endpoint="/ws", conn=conn["id"], user_id=conn["user_id"],
                            channel=channel, session_id=session_id, json=text, error=repr(e))
                return

    def push(conn, obj_or_text, channel=None, session_id=None):
        text = obj_or_text if isinstance(obj_or_text, str) else common.dumps(obj_or_text)
        conn["queue"].put_nowait((text, channel, session_id))

    async def deliver(channel, raw):
        try:
            msg = json.loads(raw)
        except ValueError:
            st.sent.add(kind="dropped", channel=channel, json=raw, reason="invalid JSON from Redis")
            return
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
            st.sent.add(kind="dropped", channel=channel, json=raw, reason="not a {type, ...} object")
            return
        st.hist_seq += 1
        st.history.append({"seq": st.hist_seq, "channel": channel, "raw": raw, "message": msg})
        if len(st.history) > args.history:
            del st.history[: len(st.history) - args.history]
        sid = msg.get("session_id")
        for conn in list(st.conns.values()):
            if channel in conn["channels"] and st.allowed(conn["user_id"], channel):
                push(conn, raw, channel, sid)

    async def redis_listener(ready):
        backoff = 0.1
        while True:
            client = aioredis.Redis(host=args.redis_host, port=args.redis_port)
            ps = client.pubsub()
            try:
                await ps.psubscribe(st.prefix + "webgui:*")
                while True:
                    m = await ps.get_message(ignore_subscribe_messages=False, timeout=1.0)
                    if m is None:
                        continue
                    if m["type"] == "psubscribe":
                        ready.set()
                        backoff = 0.1
                        continue
                    if m["type"] != "pmessage":
                        continue
                    ch = m["channel"].decode() if isinstance(m["channel"], bytes) else m["channel"]
                    raw = m["data"].decode() if isinstance(m["data"], bytes) else m["data"]
                    if not ch.startswith(st.prefix):
                        continue
                    await deliver(ch[len(st.prefix):], raw)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - Redis went away: resubscribe with backoff
                print(f"redis listener: {e!r}; retrying", file=sys.stderr, flush=True)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
            finally:
                try:
                    await ps.close()
                    await client.close()
                except Exception:  # noqa: BLE001
                    pass

    async def heartbeats():
        while True:
            await asyncio.sleep(st.heartbeat if st.heartbeat > 0 else 1.0)
            if st.heartbeat <= 0:
                continue
            for conn in list(st.conns.values()):
                push(conn, envelope(st, "heartbeat", {}))

    @app.on_event("startup")
    async def startup():
        ready = asyncio.Event()
        st.redis_pub = aioredis.Redis(host=args.redis_host, port=args.redis_port)
        st.listener = asyncio.ensure_future(redis_listener(ready))
        st.hb_task = asyncio.ensure_future(heartbeats())
        try:
            await asyncio.wait_for(ready.wait(), 10)
        except asyncio.TimeoutError:
            print("warning: Redis subscription not confirmed", file=sys.stderr, flush=True)

    @app.on_event("shutdown")
    async def shutdown():
        for t in (st.listener, st.hb_task):
            if t:
                t.cancel()

    async def publish(channel, text):
        st.sent.add(kind="publish", channel=channel, session_id=_sid(text), json=text)
        return await st.redis_pub.publish(st.prefix + channel, text)

    def _sid(text):
        try:
            m = json.loads(text)
            return m.get("session_id") if isinstance(m, dict) else None
        except ValueError:
            return None

    def resolve_user(params):
        uid = params.get("user_id")
        tok = params.get("token")
        if tok is not None:
            uid2 = TOKENS.get(tok)
            if uid2 is None or (uid is not None and uid != uid2):
                return None
            return uid2
        return uid if uid in USERS else None

    # ---- WebSocket -----------------------------------------------------------------------------
    @app.websocket("/ws")
    async def ws_endpoint(ws: WebSocket):
        if not st.ws_enabled:
            await ws.close(code=1013)
            return
        user_id = resolve_user(ws.query_params)
        if user_id is None:
            await ws.close(code=1008)            # before accept: handshake answered HTTP 403
            return
        await ws.accept()
        cid = f"c{next(st.conn_ids)}"
        conn = {"id": cid, "ws": ws, "user_id": user_id,
                "channels": {"webgui:global", f"webgui:user:{user_id}"},
                "queue": asyncio.Queue(), "connected_at": time.time()}
        st.conns[cid] = conn
        writer = asyncio.ensure_future(conn_writer(conn))
        push(conn, envelope(st, "connected", {"connection_id": cid, "user_id": user_id,
                                              "channels": sorted(conn["channels"]),
                                              "heartbeat_interval": st.heartbeat}))
        try:
            while True:
                text = await ws.receive_text()
                try:
                    msg = json.loads(text)
                except ValueError:
                    push(conn, envelope(st, "error", {"code": "invalid_json", "message": "message is not JSON"}))
                    continue
                if not isinstance(msg, dict):
                    push(conn, envelope(st, "error", {"code": "invalid_message", "message": "expected a JSON object"}))
                    continue
                t = msg.get("type")
                if t == "ping":
                    push(conn, envelope(st, "pong", msg.get("data") if isinstance(msg.get("data"), dict) else {}))
                elif t in ("subscribe", "unsubscribe"):
                    chans = msg.get("channels")
                    if not isinstance(chans, list):
                        push(conn, envelope(st, "error", {"code": "invalid_message",
                                                          "message": "channels must be a list of channel names"}))
                        continue
                    bad = [c for c in chans if not valid_channel(c)]
                    for c in bad:
                        push(conn, envelope(st, "error", {"code": "invalid_channel", "message": f"unknown channel {c!r}",
                                                          "channel": c}))
                    good = [c for c in chans if valid_channel(c)]
                    if t == "subscribe":
                        granted = [c for c in good if st.allowed(user_id, c)]
                        denied = [c for c in good if not st.allowed(user_id, c)]
                        conn["channels"].update(granted)
                        for c in denied:
                            push(conn, envelope(st, "error", {"code": "permission_denied",
                                                              "message": f"not allowed to subscribe to {c}",
                                                              "channel": c}))
                        push(conn, envelope(st, "subscribed", {"channels": granted, "denied": denied}))
                    else:
                        for c in good:
                            conn["channels"].discard(c)
                        push(conn, envelope(st, "unsubscribed", {"channels": good}))
                else:
                    push(conn, envelope(st, "error", {"code": "unknown_type",
                                                      "message": f"unknown message type {t!r}"}))
        except WebSocketDisconnect:
            pass
        except Exception:  # noqa: BLE001 - transport aborted
            pass
        finally:
            st.conns.pop(cid, None)
            conn["queue"].put_nowait(None)
            writer.cancel()

    # ---- polling fallback ----------------------------------------------------------------------
    @app.get("/api/poll")
    async def poll(request: Request):
        q = request.query_params
        user_id = resolve_user(q)
        if user_id is None:
            return JSONResponse({"detail": "unauthorized"}, status_code=401)
        chans = [c for c in (q.get("channels") or "").split(",") if c] or ["webgui:global", f"webgui:user:{user_id}"]
        try:
            since = int(q.get("since", "0"))
        except ValueError:
            return JSONResponse({"detail": "since must be an integer"}, status_code=400)
        if since > st.hist_seq:          # cursor from before a restart: start over
            since = 0
        invalid = [c for c in chans if not valid_channel(c)]
        if invalid:
            return JSONResponse({"detail": f"unknown channel {invalid[0]!r}"}, status_code=400)
        allowed = [c for c in chans if st.allowed(user_id, c)]
        denied = [c for c in chans if c not in allowed]
        msgs = [h for h in st.history if h["seq"] > since and h["channel"] in allowed]
        msgs = msgs[: int(q.get("limit", "500"))]
        for h in msgs:
            st.sent.add(kind="poll", endpoint="/api/poll", user_id=user_id, channel=h["channel"],
                        session_id=h["message"].get("session_id"), json=h["raw"])
        cursor = msgs[-1]["seq"] if msgs else max(since, st.hist_seq)
        return {"messages": [{"seq": h["seq"], "channel": h["channel"], "message": h["message"]} for h in msgs],
                "cursor": cursor, "denied": denied}

    # ---- control API ---------------------------------------------------------------------------
    @app.post("/control/scenario")
    async def control_scenario(seed: int = None):
        seed = st.seed if seed is None else seed
        for sid, acl in default_acl(seed).items():
            st.acl.setdefault(sid, acl)
        items = scenario_messages(seed)
        for it in items:
            it["json"] = common.dumps(it["message"])
            it["receivers"] = await publish(it["channel"], it["json"])
        return {"seed": seed, "count": len(items), "world": seed_world(seed), "messages": items}

    @app.get("/control/sent")
    async def control_sent(since: int = 0):
        return st.sent.since(since)

    @app.post("/control/reset")
    async def control_reset():
        st.sent.clear()
        st.history = []
        return {"ok": True}

    @app.post("/control/emit")
    async def control_emit(request: Request):
        body = await request.json()
        channel = body.get("channel")
        if not isinstance(channel, str):
            return JSONResponse({"detail": "channel required"}, status_code=400)
        if "raw" in body:
            text = body["raw"]
        elif "message" in body:
            text = common.dumps(body["message"])
        else:
            return JSONResponse({"detail": "message or raw required"}, status_code=400)
        n = await publish(channel, text)
        return {"published": True, "receivers": n, "json": text}

    @app.post("/control/drop")
    async def control_drop(mode: str = "abort", code: int = 1012):
        n = 0
        for conn in list(st.conns.values()):
            n += 1
            if mode == "abort" and common.abort_websocket(conn["ws"]):
                continue
            try:
                await conn["ws"].close(code=code)
            except Exception:  # noqa: BLE001
                pass
        return {"dropped": n, "mode": mode}

    @app.post("/control/ws")
    async def control_ws(enabled: bool = True):
        st.ws_enabled = enabled
        return {"ws_enabled": enabled}

    @app.post("/control/heartbeat")
    async def control_heartbeat(interval: float):
        st.heartbeat = interval
        return {"heartbeat": interval}

    @app.post("/control/acl")
    async def control_acl(request: Request):
        body = await request.json()
        sid = str(body.get("session_id"))
        if body.get("delete"):
            st.acl.pop(sid, None)
        else:
            cur = st.acl.get(sid, {"owner": None, "collaborators": []})
            if "owner" in body:
                cur["owner"] = body["owner"]
            if "collaborators" in body:
                cur["collaborators"] = list(body["collaborators"])
            st.acl[sid] = cur
        return {"session_id": sid, "acl": st.acl.get(sid)}

    @app.get("/control/info")
    async def control_info(seed: int = None):
        seed = st.seed if seed is None else seed
        w = seed_world(seed)
        return {"seed": seed, "world": w, "users": USERS, "acl": st.acl, "heartbeat": st.heartbeat,
                "channel_prefix": st.prefix, "ws_enabled": st.ws_enabled,
                "channels": {"session_a": f"webgui:session:{w['session_a']}",
                             "session_b": f"webgui:session:{w['session_b']}",
                             "agents": [f"webgui:agent:{a}" for a in w["agents"]]}}

    @app.get("/control/connections")
    async def control_connections():
        return [{"id": c["id"], "user_id": c["user_id"], "channels": sorted(c["channels"])}
                for c in st.conns.values()]

    return app


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--heartbeat", type=float, default=30.0, help="seconds between server heartbeats; 0 = off")
    ap.add_argument("--redis-host", default="127.0.0.1")
    ap.add_argument("--redis-port", type=int, default=6379)
    ap.add_argument("--channel-prefix", default="", help="prepended to every Redis channel (isolates parallel runs)")
    ap.add_argument("--history", type=int, default=1000, help="messages kept for /api/poll")
    args = ap.parse_args()
    common.serve(create_app(args), args.port)


if __name__ == "__main__":
    main()
