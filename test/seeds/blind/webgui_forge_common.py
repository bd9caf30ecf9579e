"""Shared plumbing for webgui_server.py and forge_server.py (written from the seed documents alone).

Nothing here is protocol: it is process start-up, the record of everything sent, timestamp
formats and the abrupt-drop helper.
"""
import asyncio
import datetime
import json
import os
import socket
import sys
import time

DEBIAN_PY = "/usr/bin/python3"


def ensure_debian_python():
    """The servers use Debian's python3-fastapi/uvicorn/websockets/redis. When `python3` on PATH
    is another interpreter (pyenv, venv) without them, re-run this script under /usr/bin/python3."""
    try:
        import fastapi, uvicorn, websockets, redis  # noqa: F401
    except ImportError:
        if os.path.realpath(sys.executable) != os.path.realpath(DEBIAN_PY) and os.path.exists(DEBIAN_PY):
            os.execv(DEBIAN_PY, [DEBIAN_PY] + sys.argv)
        raise


def iso_z(t=None):
    """2024-01-01T12:00:00Z (the seed's own example form, whole seconds)."""
    t = time.time() if t is None else t
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_offset(t=None):
    """2024-01-01T12:00:00.123456+00:00 (Python's datetime.isoformat())."""
    t = time.time() if t is None else t
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat()


def iso_naive(t=None):
    """2024-01-01T12:00:00.123456 (datetime.utcnow().isoformat(): no zone at all)."""
    t = time.time() if t is None else t
    return datetime.datetime.utcfromtimestamp(t).isoformat()


def epoch(t=None):
    """1704110400.123 (time.time())."""
    t = time.time() if t is None else t
    return round(t, 3)


def dumps(obj):
    # The exact text that goes on the wire / into Redis: json.dumps defaults (", " and ": ").
    return json.dumps(obj)


class SentLog:
    """Every message the server sent on a WebSocket or published to Redis, in order."""

    def __init__(self, limit=20000):
        self.items = []
        self.seq = 0
        self.limit = limit

    def add(self, **entry):
        self.seq += 1
        entry = {"seq": self.seq, "t": round(time.time(), 6), **entry}
        self.items.append(entry)
        if len(self.items) > self.limit:
            del self.items[: len(self.items) - self.limit]
        return entry

    def since(self, seq):
        return [e for e in self.items if e["seq"] > seq]

    def clear(self):
        self.items = []


def abort_websocket(ws):
    """Close a Starlette WebSocket's TCP connection without a close frame. Returns True when the
    transport could be reached (uvicorn's protocol object is bound to the ASGI receive/send)."""
    for fn in (getattr(ws, "_receive", None), getattr(ws, "_send", None)):
        proto = getattr(fn, "__self__", None)
        transport = getattr(proto, "transport", None)
        if transport is not None:
            transport.abort()
            return True
    return False


def make_socket(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def serve(app, port, on_ready=None):
    """Run `app` with uvicorn on 127.0.0.1:port (0 = pick one); print `LISTENING <port>` once the
    listener is up and on_ready (an async callable, e.g. the Redis subscription) has finished."""
    import uvicorn

    sock = make_socket(port)
    real_port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", ws="websockets", lifespan="on",
                            ws_ping_interval=None, ws_ping_timeout=None)
    server = uvicorn.Server(config)

    async def announce():
        for _ in range(600):
            if server.started or server.should_exit:
                break
            await asyncio.sleep(0.01)
        if on_ready is not None:
            await on_ready()
        print(f"LISTENING {real_port}", flush=True)

    async def main():
        task = asyncio.ensure_future(announce())
        try:
            await server.serve(sockets=[sock])
        finally:
            task.cancel()

    asyncio.run(main())
