"""`make run`: the whole platform on one machine, in one terminal.

Keys, embedded PostgreSQL (unless DATABASE_URL is set), the embedded S3 store when
STORAGE_URL asks for it (ops/s3.py), migrations, then the gateway and the three services,
each its own uvicorn process as in production (`REPLICAS=2`: each service twice, the gateway
given both addresses). Every process's output streams here, prefixed with its name; Ctrl-C stops them all (and the database and the S3 store, if this run started
them). Data stays under .data/ between runs.

Supervised: a process that dies after it has served is started again, after 1 s, then 2, 4...
up to 30 s while it keeps dying, and the output says so. Only a process that cannot start at
all (it never answers /readyz the first time) stops the whole run. While it runs, .data/run.json
(ops/runfile.py) tells the operator CLI its ports.
"""

from __future__ import annotations

import collections
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
# Waits before restarting a process that died, one more step each time it dies again soon.
RESTART_BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
# A process that served this long before dying starts again from the first wait.
STABLE_S = 60.0
# Replica k of a service listens on its port + (k - 1) * this: the first replicas keep their usual
# ports (8001-8003), and the services' further replicas do not take each other's (8011-8013, ...).
REPLICA_PORT_STEP = 10


@dataclass
class Spec:
    name: str
    module: str
    port_env: str
    default_port: int
    public: bool = False

    def port(self) -> int:
        return int(os.environ.get(self.port_env) or self.default_port)

    def workers(self, env: dict[str, str] | None = None) -> int:
        """uvicorn workers of this process: `<NAME>_WORKERS`, else `WORKERS` (`make run WORKERS=2`), else 1."""
        return self._count("WORKERS", env)

    def replicas(self, env: dict[str, str] | None = None) -> int:
        """Processes of this service: `<NAME>_REPLICAS`, else `REPLICAS` (`make run REPLICAS=2`), else 1.
        The gateway is always one: clients would need a load balancer in front of several
        (docs/operations.md); its workers share its one port."""
        return 1 if self.public else self._count("REPLICAS", env)

    def _count(self, what: str, env: dict[str, str] | None) -> int:
        env = os.environ if env is None else env
        value = env.get(f"{self.name.upper()}_{what}") or env.get(what) or "1"
        try:
            count = int(value)
        except ValueError:
            raise Failed(f"{self.name.upper()}_{what} (or {what}) must be a whole number, not {value!r}") from None
        if count < 1:
            raise Failed(f"{self.name.upper()}_{what} (or {what}) must be at least 1, not {count}")
        return count


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
    env: dict[str, str]
    replica: int = 1
    proc: subprocess.Popen | None = None
    tail: collections.deque = field(default_factory=lambda: collections.deque(maxlen=TAIL_LINES))
    reader: threading.Thread | None = None
    # Supervision: when it last started, how often it died soon after, when it starts again,
    # and whether it has answered /readyz since it last started.
    started_at: float = 0.0
    failures: int = 0
    restarts: int = 0
    restart_at: float | None = None
    serving: bool = False

    @property
    def name(self) -> str:
        """The service's name, and its replica's number from the second on: cases, cases-2."""
        return self.spec.name if self.replica == 1 else f"{self.spec.name}-{self.replica}"

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
_width = max(len(s.name) for s in SPECS) + 2  # room for a replica's number: volunteers-2


def say(line: str, name: str = "run") -> None:
    with _print_lock:
        sys.stdout.write(f"{name:<{_width}} | {line}\n")
        sys.stdout.flush()


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def server(app: str, host: str, port: int, workers: int = 1) -> list[str]:
    """How every process runs, here and in docker-compose.yml, the Dockerfile, the tests' platform and
    the bench: uvicorn as shared/server.py configures it (no proxy headers, no access log, one write
    per response). `app`: "module:factory"."""
    command = ["shared.server", app, "--host", host, "--port", str(port)]
    return command + (["--workers", str(workers)] if workers > 1 else [])


def command(spec: Spec, host: str, port: int, workers: int = 1) -> list[str]:
    """The process, as in production (docs/operations.md), under ops.child: it stops when this
    supervisor dies, even if killed outright. With `workers` > 1, uvicorn's own supervisor runs
    that many workers on the one port (and starts a worker that dies again)."""
    uvicorn = server(f"{spec.module}:main", host, port, workers)
    return [sys.executable, "-m", "ops.child", str(os.getpid()), *uvicorn]


def metrics_folder(child: Child, env: dict[str, str]) -> Path:
    """Where the process's workers leave their metrics for each other's scrapes (shared/multiprocess.py):
    one folder per process (each replica its own: each answers for itself), under HAOLIN_METRICS_DIR
    (default .data/metrics)."""
    return Path(env.get("HAOLIN_METRICS_DIR") or ROOT / ".data" / "metrics") / child.name


def fresh_metrics_folder(folder: Path) -> None:
    """Emptied at every start: the counters of an earlier run's workers are not this run's."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.db"):
        old.unlink(missing_ok=True)


def launch(child: Child, remember: list[str]) -> None:
    """Start (or start again) the child's process and the thread that streams its output."""
    env = dict(child.env)
    # Always set, whatever the number of workers: /metrics is gathered the same way for one or many.
    folder = metrics_folder(child, env)
    fresh_metrics_folder(folder)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    child.proc = subprocess.Popen(
        command(child.spec, child.host, child.port, child.spec.workers(env)), cwd=ROOT, env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        # Own process group: Ctrl-C reaches only this supervisor, which then stops each
        # child once and in order, instead of every process racing its own shutdown.
        process_group=0,
    )
    child.started_at, child.restart_at, child.serving = time.monotonic(), None, False
    child.reader = threading.Thread(target=stream, args=(child, child.proc, remember), daemon=True)
    child.reader.start()


def stream(child: Child, proc: subprocess.Popen, remember: list[str]) -> None:
    assert proc.stdout is not None
    for raw in iter(proc.stdout.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip("\n")
        child.tail.append(line)
        if child.spec.public and _PASSWORD_LINE.search(line):
            remember.append(line.strip(" *"))
        say(line, child.name)


def ready(child: Child) -> bool:
    try:
        with urllib.request.urlopen(child.url + "/readyz", timeout=1) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def check_alive(children: list[Child]) -> None:
    """During the first start: a process that exits cannot start at all."""
    for child in children:
        code = child.proc.poll()
        if code is not None:
            raise Failed(f"{child.name} {exited(code)} before it answered /readyz", child)


def exited(code: int) -> str:
    if code < 0:
        try:
            return f"was stopped by {signal.Signals(-code).name}"
        except ValueError:
            pass
    return f"exited with code {code}"


def wait_ready(children: list[Child], stopping: threading.Event) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    pending = list(children)
    while pending:
        check_alive(children)
        if stopping.is_set():
            return
        pending = [c for c in pending if not ready(c)]
        for child in children:
            child.serving = child not in pending
        if pending and time.monotonic() > deadline:
            raise Failed(f"{pending[0].name} did not answer {pending[0].url}/readyz within "
                         f"{READY_TIMEOUT_S:.0f} s", pending[0])
        if pending:
            stopping.wait(0.25)


def supervise(children: list[Child], remember: list[str]) -> None:
    """One look at every process: a dead one is scheduled to start again (with backoff), a due
    one is started, a restarted one that answers /readyz is announced."""
    now = time.monotonic()
    for child in children:
        if child.restart_at is None:
            code = child.proc.poll()
            if code is not None:
                # Its uvicorn workers, if any, outlive a supervisor killed outright and would keep the port.
                stop_group(child)
                if now - child.started_at >= STABLE_S:
                    child.failures = 0
                wait = RESTART_BACKOFF_S[min(child.failures, len(RESTART_BACKOFF_S) - 1)]
                child.failures += 1
                child.restart_at = now + wait
                say(f"{child.name} {exited(code)}; restarting it in {wait:.0f} s")
        elif now >= child.restart_at:
            child.restarts += 1
            say(f"restarting {child.name} (restart {child.restarts})")
            launch(child, remember)
        if child.proc.poll() is None and not child.serving and child.restarts and ready(child):
            child.serving = True
            say(f"{child.name} is serving again at {child.url}")


def stop_group(child: Child) -> None:
    """Kill what is left of a stopped child's process group (launch gives each its own): uvicorn's
    workers when their supervisor died without stopping them."""
    try:
        os.killpg(child.proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def stop_children(children: list[Child]) -> None:
    children = [c for c in children if c.proc is not None]
    for child in children:
        if child.proc.poll() is None:
            child.proc.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for child in children:
        try:
            child.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"{child.name} did not stop in {STOP_GRACE_S:.0f} s; killing it")
            child.proc.kill()
            child.proc.wait()
        stop_group(child)
    for child in children:
        if child.reader is not None:
            child.reader.join(timeout=2)


def banner(children: list[Child], password_lines: list[str]) -> None:
    gateway = next(c for c in children if c.spec.public)
    lines = ["", "Haolin is running.",
             f"  Dashboard:     {gateway.url}/dashboard",
             f"  API and docs:  {gateway.url}/docs   (the one address for apps, tablets and dashboards)"]
    for c in children:
        if not c.spec.public:
            lines.append(f"  {c.name + ':':<15}{c.url}  (internal service)")
    lines.append("  Log in (the dashboard, the Authorize button on /docs, or POST /v1/auth/token) as user 'admin'")
    if os.environ.get("ADMIN_PASSWORD"):
        lines.append("  with the password in ADMIN_PASSWORD.")
    elif password_lines:
        lines.append("  with the password the gateway generated on its first start:")
        lines.extend(f"    {line}" for line in password_lines[-1:])
    else:
        lines.append("  with the password the gateway printed on its first start (set ADMIN_PASSWORD")
        lines.append("  before the first start to choose it; README.md says how to start afresh).")
    lines.append("A process that stops is started again. Press Ctrl-C to stop everything; data stays under "
                 ".data/ for the next run.")
    for line in lines:
        say(line)


def main() -> int:
    from ops import keys, migrate, pg, runfile, s3

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

    other = runfile.read()
    if other is not None:
        say(f"error: `make run` is already running (pid {other.pid}, gateway at {other.gateway_url}); "
            "stop that one first (Ctrl-C in its terminal)")
        return 1

    started_pg, pg_port = False, None
    if not env.get("DATABASE_URL"):
        pg_port = pg.DEFAULT_PORT
        started_pg = not pg.is_running(pg_port)
        say(f"starting the embedded PostgreSQL on port {pg_port} (data in .data/pg)" if started_pg
            else f"using the embedded PostgreSQL already running on port {pg_port}")
        try:
            # Migrations as the owner; the processes as the application's role, which cannot change the
            # schema or audit rows (ops/migrate.py grants it what it needs).
            env["DATABASE_OWNER_URL"] = pg.start(port=pg_port)
        except pg.PgError as exc:
            say(f"error: {exc}")
            return 1
        env["DATABASE_URL"] = pg.url(pg_port, user=migrate.APP_ROLE)
        # Migrations read the URLs from the environment, as the services do, so a
        # per-service CASES_DATABASE_URL is honoured by both.
        os.environ["DATABASE_OWNER_URL"], os.environ["DATABASE_URL"] = env["DATABASE_OWNER_URL"], env["DATABASE_URL"]

    children: list[Child] = []
    password_lines: list[str] = []
    started_s3 = False
    try:
        try:
            if s3.wants_embedded(env.get("STORAGE_URL")):
                say(f"starting the embedded S3 store (SeaweedFS) on port {s3.DEFAULT_PORT} (data in .data/s3)"
                    if not s3.is_running() else f"using the embedded S3 store running on port {s3.DEFAULT_PORT}")
                started_s3 = s3.use_embedded(env)
        except s3.S3Error as exc:
            raise Failed(str(exc)) from None
        say("running migrations")
        migrate.upgrade_all()

        plan = []
        for spec in SPECS:
            # Only the gateway is public; services listen on loopback whatever HOST says.
            bind = host if spec.public else "127.0.0.1"
            spec.workers(env)  # a bad WORKERS stops the run before anything starts
            for replica in range(1, spec.replicas(env) + 1):
                port = spec.port() + (replica - 1) * REPLICA_PORT_STEP
                if not _port_free(bind, port):
                    raise Failed(f"port {port} for {spec.name} is in use (is `make run` already running? "
                                 f"set {spec.port_env} to use another)")
                plan.append((spec, replica, bind, port))
        for spec in SPECS:
            # Each process finds the others where this run put them; the services ask the gateway
            # (GATEWAY_URL) about the records of others that theirs name, so they too follow a GATEWAY_PORT.
            urls = [f"http://{'127.0.0.1' if bind in ('0.0.0.0', '::', '') else bind}:{port}"
                    for s, _, bind, port in plan if s is spec]
            env[f"{spec.name.upper()}_URL"] = urls[0]
            if not spec.public:
                # Every replica, for the gateway to spread over (gateway/upstream/replicas.py); set even for
                # one, so that a list left in the operator's environment does not point the gateway elsewhere.
                env[f"{spec.name.upper()}_URLS"] = ",".join(urls)

        children = [Child(spec, bind, port, env, replica) for spec, replica, bind, port in plan]
        for child in children:
            launch(child, password_lines)

        wait_ready(children, stopping)
        if not stopping.is_set():
            banner(children, password_lines)
            gateway = next(c for c in children if c.spec.public)
            runfile.write(runfile.RunInfo(pid=os.getpid(), gateway_url=gateway.url, pg_port=pg_port,
                                          processes={c.name: c.url for c in children}))
        while not stopping.is_set():
            supervise(children, password_lines)
            stopping.wait(0.5)
        say("stopping")
        return 0
    except Failed as exc:
        say(f"error: {exc.args[0]}")
        if len(exc.args) > 1:
            child: Child = exc.args[1]
            if child.reader is not None:
                child.reader.join(timeout=1)
            say(f"last output of {child.name}:")
            for line in child.tail:
                say(f"  {line}")
        return 1
    finally:
        runfile.remove(os.getpid())
        stop_children(children)
        if started_s3:
            say("stopping the embedded S3 store (up to 20 s)")
            s3.stop()
        if started_pg:
            say("stopping the embedded PostgreSQL")
            pg.stop()


if __name__ == "__main__":
    sys.exit(main())
