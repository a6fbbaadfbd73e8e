"""`.data/run.json`: where a running `make run` put its processes and its PostgreSQL.

Written by ops/run.py once every process answers, removed when it stops; the operator CLI reads
it, so `haolin ...` in another terminal finds a platform started on other ports
(`GATEWAY_PORT=8100 HAOLIN_PG_PORT=55432 make run`) without being told them again.
`HAOLIN_RUN_FILE` puts it elsewhere (tests run their own `make run`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def path() -> Path:
    return Path(os.environ.get("HAOLIN_RUN_FILE") or ROOT / ".data" / "run.json")


@dataclass
class RunInfo:
    pid: int
    gateway_url: str
    # The embedded PostgreSQL's port; None when the platform runs on DATABASE_URL.
    pg_port: int | None
    processes: dict[str, str] = field(default_factory=dict)  # name -> URL


def write(info: RunInfo) -> None:
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".tmp")
    partial.write_text(json.dumps(asdict(info), indent=2) + "\n")
    partial.replace(target)


def remove(pid: int) -> None:
    """Remove the file if it is still this run's (another run may have replaced it)."""
    try:
        owner = json.loads(path().read_text()).get("pid")
    except (OSError, ValueError, AttributeError):
        return
    if owner == pid:
        path().unlink(missing_ok=True)


def read() -> RunInfo | None:
    """The running `make run`'s ports, or None when there is none (no file, or its run has died)."""
    try:
        info = RunInfo(**json.loads(path().read_text()))
    except (OSError, ValueError, TypeError):
        return None
    try:
        os.kill(info.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    try:  # Linux: the pid may have been reused since a run was killed outright
        if b"ops.run" not in Path(f"/proc/{info.pid}/cmdline").read_bytes():
            return None
    except OSError:
        pass
    return info
