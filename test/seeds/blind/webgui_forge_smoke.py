#!/usr/bin/env python3
"""Smoke test of the webgui and forge emulations themselves (not of agentwire).

    python3 test/seeds/blind/webgui_forge_smoke.py        # exit 0 = both emulations behave

Starts each server, connects plain python3-websockets clients, subscribes as the seed
describes, triggers the scenario, and checks that what each client received is exactly what
/control/sent says the server sent it, that every message type arrived in every variant family,
that permission filtering, ping/pong, stats, polling, drop and restart-on-the-same-port work.
"""
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import webgui_forge_common as common  # noqa: E402

common.ensure_debian_python()
import websockets  # noqa: E402

FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILS.append(what)


def start(script, *extra, port=0):
    p = subprocess.Popen(["python3", os.path.join(HERE, script), "--port", str(port), *extra],
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.startswith("LISTENING "), f"{script}: {line!r}"
    return p, int(line.split()[1])


def stop(p):
    p.terminate()
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        p.kill()


def http(port, path, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.load(r)


async def drain(ws, quiet=0.6, limit=500):
    out = []
    try:
        for _ in range(limit):
            out.append(await asyncio.wait_for(ws.recv(), quiet))
    except asyncio.TimeoutError:
        pass
    return out


async def closes(ws, within=2.0):
    """1 when the connection is cut without a close frame within `within` s (buffered messages skipped)."""
    end = time.time() + within
    try:
        while time.time() < end:
            await asyncio.wait_for(ws.recv(), max(0.05, end - time.time()))
    except websockets.ConnectionClosed as e:
        return 1 if e.rcvd is None else 0      # abrupt: no close frame (code 1006 in a browser)
    except asyncio.TimeoutError:
        pass
    return 0


# ---- webgui -----------------------------------------------------------------------------------
async def webgui(port):
    prefix_note = http(port, "/control/info")
    info = prefix_note
    ch = info["channels"]
    sess_a, sess_b, agents = ch["session_a"], ch["session_b"], ch["agents"]
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws?user_id=alice") as alice, \
            websockets.connect(f"ws://127.0.0.1:{port}/ws?token=token-bob") as bob:
        hello_a, hello_b = json.loads(await alice.recv()), json.loads(await bob.recv())
        check(hello_a["type"] == "connected" and set(hello_a) == {"type", "timestamp", "session_id", "data"},
              "webgui: connected envelope {type, timestamp, session_id, data}")
        await alice.send(json.dumps({"type": "subscribe", "channels": [sess_a, sess_b] + agents}))
        await bob.send(json.dumps({"type": "subscribe", "channels": [sess_a, sess_b] + agents + ["webgui:user:alice"]}))
        a_sub = [json.loads(m) for m in await drain(alice, 0.3)]
        b_sub = [json.loads(m) for m in await drain(bob, 0.3)]
        check(a_sub[-1]["type"] == "subscribed" and a_sub[-1]["data"]["denied"] == [], "webgui: alice granted all")
        check(b_sub[-1]["type"] == "subscribed" and b_sub[-1]["data"]["channels"] == [sess_a]
              and sorted(b_sub[-1]["data"]["denied"]) == sorted([sess_b] + agents + ["webgui:user:alice"])
              and sum(m["type"] == "error" and m["data"]["code"] == "permission_denied" for m in b_sub) == 4,
              "webgui: bob denied session B, agents, alice's user channel")
        await alice.send(json.dumps({"type": "ping"}))
        check(json.loads(await alice.recv())["type"] == "pong", "webgui: ping -> pong")
        since = max([e["seq"] for e in http(port, "/control/sent")] + [0])
        sc = http(port, "/control/scenario", "POST")
        got_a = await drain(alice)
        got_b = await drain(bob)
        sent = http(port, f"/control/sent?since={since}")
        pubs = [e for e in sent if e["kind"] == "publish"]
        check(len(pubs) == sc["count"], f"webgui: {sc['count']} scenario messages published to Redis")
        for name, hello, got in (("alice", hello_a, got_a), ("bob", hello_b, got_b)):
            cid = hello["data"]["connection_id"]
            want = [e["json"] for e in sent if e["kind"] == "ws" and e["conn"] == cid]
            check(got == want and len(got) > 0, f"webgui: {name} received exactly what /control/sent lists ({len(got)})")
        fam = {it["json"]: it["family"] for it in sc["messages"]}
        seen = {(json.loads(t)["type"], fam[t]) for t in got_a + got_b}
        types = {it["message"]["type"] for it in sc["messages"]}
        check(len(types) == 8 and all((t, f) in seen for t in types for f in ("canonical", "loose", "sparse")),
              "webgui: every message type arrived in every variant family")
        allowed_b = {sess_a, "webgui:global", "webgui:user:bob"}
        check(all(e["channel"] in allowed_b for e in sent if e["kind"] == "ws" and e["conn"] == hello_b["data"]["connection_id"]),
              "webgui: bob only got channels he may see")
        poll = http(port, f"/api/poll?user_id=bob&channels={sess_a},{sess_b}&since=0")
        check(poll["denied"] == [sess_b] and poll["messages"] and all(m["channel"] == sess_a for m in poll["messages"]),
              "webgui: polling fallback filtered by permission")
        http(port, "/control/emit", "POST", {"channel": "webgui:global", "raw": "not json"})
        http(port, "/control/emit", "POST", {"channel": "webgui:global",
                                              "message": {"type": "custom_event", "timestamp": 1, "session_id": None, "data": {}}})
        got = [json.loads(m) for m in await drain(alice, 0.4)]
        check([m["type"] for m in got] == ["custom_event"], "webgui: emit; invalid JSON on Redis dropped")
        r = http(port, "/control/drop", "POST")
        closed = 0
        for ws in (alice, bob):
            closed += await closes(ws)
        check(r["dropped"] == 2 and closed == 2, f"webgui: drop closes every connection ({r}, {closed})")
    try:
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws?user_id=mallory"):
            ok = False
    except websockets.InvalidStatusCode as e:
        ok = e.status_code == 403
    check(ok, "webgui: unknown user rejected at handshake (403)")


# ---- forge ------------------------------------------------------------------------------------
async def forge(port):
    eps = ["agents", "tasks", "knowledge", "metrics", "dashboard"]
    socks = {ep: await websockets.connect(f"ws://127.0.0.1:{port}/ws/{ep}") for ep in eps}
    hellos = {}
    for ep, ws in socks.items():
        hellos[ep] = json.loads(await ws.recv())
    check(all(h["type"] == "connection_established" for h in hellos.values()), "forge: connection_established on all 5")
    await drain(socks["dashboard"], 0.3)  # initial snapshot
    await socks["tasks"].send(json.dumps({"type": "ping"}))
    check(json.loads(await socks["tasks"].recv())["type"] == "pong", "forge: ping -> pong")
    since = max([e["seq"] for e in http(port, "/control/sent")] + [0])
    sc = http(port, "/control/scenario", "POST")
    got = {ep: await drain(ws, 0.4) for ep, ws in socks.items()}
    sent = http(port, f"/control/sent?since={since}")
    for ep in eps:
        cid = hellos[ep]["data"]["client_id"]
        want = [e["json"] for e in sent if e["kind"] == "ws" and e["conn"] == cid]
        check(got[ep] == want and len(want) > 0, f"forge: /ws/{ep} received exactly what /control/sent lists ({len(want)})")
    fam = {it["json"]: it["family"] for it in sc["messages"]}
    seen = {(json.loads(t)["type"], fam[t]) for ep in eps for t in got[ep] if t in fam}
    types = {it["message"]["type"] for it in sc["messages"]}
    check(len(types) == 12 and all((t, f) in seen for t in types for f in ("canonical", "loose", "sparse")),
          "forge: every event type arrived in every variant family")
    st = http(port, "/ws/stats")
    check(st["total_connections"] == 5 and st["connections_by_endpoint"]["agents"] == 1, "forge: /ws/stats counts connections")
    r = http(port, "/control/drop", "POST")
    closed = 0
    for ws in socks.values():
        closed += await closes(ws)
    check(r["dropped"] == 5 and closed == 5, "forge: drop closes every connection")
    http(port, "/control/emit", "POST", {"endpoint": "/ws/tasks", "message": {"type": "task_started", "timestamp": 1, "data": {"task_id": 9}}})
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/tasks") as ws:
        got = [json.loads(m) for m in await drain(ws, 0.4)]
        check([m["type"] for m in got] == ["connection_established", "task_started"],
              "forge: message emitted while nobody listened is delivered on reconnect")


def main():
    deadline = time.time() + 60
    p, port = start("webgui_server.py", "--seed", "3", "--channel-prefix", f"smoke{os.getpid()}:")
    try:
        asyncio.run(webgui(port))
    finally:
        stop(p)
    p, port2 = start("webgui_server.py", "--seed", "3", port=port)
    check(port2 == port, "webgui: restarts on the same port")
    stop(p)
    p, port = start("forge_server.py", "--seed", "3", "--metrics-interval", "0", "--dashboard-interval", "0")
    try:
        asyncio.run(forge(port))
    finally:
        stop(p)
    p, port2 = start("forge_server.py", "--seed", "3", port=port)
    check(port2 == port, "forge: restarts on the same port")
    stop(p)
    check(time.time() < deadline, "finished within 60 s")
    print("SMOKE " + ("PASS" if not FAILS else f"FAIL ({len(FAILS)})"))
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
