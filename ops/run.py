"""`make run`: the whole platform on one machine, in one terminal.

Keys, embedded PostgreSQL (unless DATABASE_URL is set), migrations, then the gateway
and the three services, each its own uvicorn process as in production. Every
process's output streams here, prefixed with its name; Ctrl-C stops them all (and
the database, if this run started it). Data stays under .data/ between runs.
"""

from __future__ import annotations

import collections
import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = float(os.environ.get("HAOLIN_READY_TIMEOUT_S", "60"))
STOP_GRACE_S = 5.0
TAIL_LINES = 40


@dataclass
class Spec:
    name: str
    module: str
    port_env: str
    default_port: int
    public: bool = False

    def port(self) -> int:
        return int(os.environ.get(self.port_env) or self.default_port)


SPECS = (
    Spec("gateway", "gateway.app", "GATEWAY_PORT", 8000, public=True),
    Spec("cases", "services.cases.app", "CASES_PORT", 8001),
    Spec("projects", "services.projects.app", "PROJECTS_PORT", 8002),
    Spec("volunteers", "services.volunteers.app", "VOLUNTEERS_PORT", 8003),
)


@dataclass
class Child:
    spec: Spec
    host: str
    port: int
    proc: subprocess.Popen
    tail: collections.deque = field(default_factory=lambda: collections.deque(maxlen=TAIL_LINES))
    reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        # 0.0.0.0 is where to listen, not where to connect.
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"


# The gateway's one-time "... password: <generated>" line on its first start.
_PASSWORD_LINE = re.compile(r"password:\s*\S", re.IGNORECASE)


class Failed(Exception):
    pass


_print_lock = threading.Lock()
_width = max(len(s.name) for s in SPECS)


def say(line: str, name: str = "run") -> None:
    with _print_lock:
        sys.stdout.write(f"{name:<{_width}} | {line}\n")
        sys.stdout.flush()


def _die_with_parent() -> None:
    # Linux: if this supervisor is killed outright, the kernel sends the child SIGTERM,
    # so no uvicorn is left holding a port.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


# How every process runs, here and in docker-compose.yml and the Dockerfile. --no-proxy-headers: uvicorn
# would otherwise take the client's address from X-Forwarded-For whenever the peer is on loopback, a
# header anyone can send; each process decides itself whom to believe (TRUSTED_PROXIES, shared.audit).
UVICORN_FLAGS = ("--loop", "uvloop", "--http", "httptools", "--no-access-log", "--no-proxy-headers")


def start_child(spec: Spec, host: str, port: int, env: dict[str, str]) -> Child:
    cmd = [sys.executable, "-m", "uvicorn", "--factory", f"{spec.module}:main", "--host", host, "--port", str(port),
           *UVICORN_FLAGS]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        # Own process group: Ctrl-C reaches only this supervisor, which then stops each
        # child once and in order, instead of every process racing its own shutdown.
        process_group=0, preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
    )
    return Child(spec, host, port, proc)


def stream(child: Child, remember: list[str]) -> None:
    assert child.proc.stdout is not None
    for raw in iter(child.proc.stdout.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip("\n")
        child.tail.append(line)
        if child.spec.public and _PASSWORD_LINE.search(line):
            remember.append(line.strip(" *"))
        say(line, child.spec.name)


def ready(child: Child) -> bool:
    try:
        with urllib.request.urlopen(child.url + "/readyz", timeout=1) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def check_alive(children: list[Child]) -> None:
    for child in children:
        code = child.proc.poll()
        if code is not None:
            raise Failed(f"{child.spec.name} exited with code {code}", child)


def wait_ready(children: list[Child], stopping: threading.Event) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    pending = list(children)
    while pending:
        check_alive(children)
        if stopping.is_set():
            return
        pending = [c for c in pending if not ready(c)]
        if pending and time.monotonic() > deadline:
            raise Failed(f"{pending[0].spec.name} did not answer {pending[0].url}/readyz within "
                         f"{READY_TIMEOUT_S:.0f} s", pending[0])
        if pending:
            stopping.wait(0.25)


def stop_children(children: list[Child]) -> None:
    for child in children:
        if child.proc.poll() is None:
            child.proc.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for child in children:
        try:
            child.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"{child.spec.name} did not stop in {STOP_GRACE_S:.0f} s; killing it")
            child.proc.kill()
            child.proc.wait()
    for child in children:
        if child.reader is not None:
            child.reader.join(timeout=2)


def banner(children: list[Child], password_lines: list[str]) -> None:
    gateway = next(c for c in children if c.spec.public)
    lines = ["", "Haolin is running.",
             f"  API and docs:  {gateway.url}/docs   (the one address for apps, tablets and dashboards)"]
    for c in children:
        if not c.spec.public:
            lines.append(f"  {c.spec.name + ':':<15}{c.url}  (internal service)")
    lines.append("  Log in (Authorize button on /docs, or POST /v1/auth/token) as user 'admin'")
    if os.environ.get("ADMIN_PASSWORD"):
        lines.append("  with the password in ADMIN_PASSWORD.")
    elif password_lines:
        lines.append("  with the password the gateway generated on its first start:")
        lines.extend(f"    {line}" for line in password_lines[-1:])
    else:
        lines.append("  with the password the gateway printed on its first start (set ADMIN_PASSWORD")
        lines.append("  before the first start to choose it; README.md says how to start afresh).")
    lines.append("Press Ctrl-C to stop. Data stays under .data/ for the next run.")
    for line in lines:
        say(line)


def main() -> int:
    from ops import keys, migrate, pg

    host = os.environ.get("HOST", "127.0.0.1")
    stopping = threading.Event()

    def on_signal(signum, frame):
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    env = dict(os.environ)
    for name, value in keys.ensure_keys(ROOT / ".data" / "keys").items():
        env.setdefault(name, value)  # values set by the operator win over the dev keys
    env["PYTHONUNBUFFERED"] = "1"

    started_pg = False
    if not env.get("DATABASE_URL"):
        started_pg = not pg.is_running()
        say("starting the embedded PostgreSQL (data in .data/pg)" if started_pg
            else "using the embedded PostgreSQL that is already running")
        # Migrations as the owner; the processes as the application's role, which cannot change the
        # schema or audit rows (ops/migrate.py grants it what it needs).
        env["DATABASE_OWNER_URL"] = pg.start()
        env["DATABASE_URL"] = pg.url(user=migrate.APP_ROLE)
        # Migrations read the URLs from the environment, as the services do, so a
        # per-service CASES_DATABASE_URL is honoured by both.
        os.environ["DATABASE_OWNER_URL"], os.environ["DATABASE_URL"] = env["DATABASE_OWNER_URL"], env["DATABASE_URL"]

    children: list[Child] = []
    password_lines: list[str] = []
    try:
        say("running migrations")
        migrate.upgrade_all()

        plan = []
        for spec in SPECS:
            # Only the gateway is public; services listen on loopback whatever HOST says.
            bind = host if spec.public else "127.0.0.1"
            port = spec.port()
            if not _port_free(bind, port):
                raise Failed(f"port {port} for {spec.name} is in use (is `make run` already running? "
                             f"set {spec.port_env} to use another)")
            plan.append((spec, bind, port))
        for spec, bind, port in plan:
            # Each process finds the others where this run put them; the projects service asks
            # the gateway (GATEWAY_URL) about attendees, so it too follows a GATEWAY_PORT.
            reach = "127.0.0.1" if bind in ("0.0.0.0", "::", "") else bind
            env[f"{spec.name.upper()}_URL"] = f"http://{reach}:{port}"

        # All forked before any reader thread starts: preexec_fn is only safe without threads.
        children = [start_child(spec, bind, port, env) for spec, bind, port in plan]
        for child in children:
            child.reader = threading.Thread(target=stream, args=(child, password_lines), daemon=True)
            child.reader.start()

        wait_ready(children, stopping)
        if not stopping.is_set():
            banner(children, password_lines)
        while not stopping.is_set():
            check_alive(children)
            stopping.wait(0.5)
        say("stopping")
        return 0
    except Failed as exc:
        say(f"error: {exc.args[0]}")
        if len(exc.args) > 1:
            child: Child = exc.args[1]
            if child.reader is not None:
                child.reader.join(timeout=1)
            say(f"last output of {child.spec.name}:")
            for line in child.tail:
                say(f"  {line}")
        return 1
    finally:
        stop_children(children)
        if started_pg:
            say("stopping the embedded PostgreSQL")
            pg.stop()


if __name__ == "__main__":
    sys.exit(main())
