"""One platform process as `make run` starts it: `python -m ops.child SUPERVISOR_PID shared.server ARGS...`.

Asks the kernel (Linux) to send it SIGTERM when the supervisor dies, even by SIGKILL, so no
uvicorn is left holding a port, then becomes uvicorn (exec: same pid, the setting survives).
Done here rather than in a preexec_fn: ops/run.py restarts crashed processes while its output
threads run, and a preexec_fn is not safe in a process with threads.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main() -> None:
    supervisor, program, *args = sys.argv[1:]
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        except OSError:
            pass
    if os.getppid() != int(supervisor):
        sys.exit(1)  # the supervisor died before the setting took: nobody would stop this process
    os.execv(sys.executable, [sys.executable, "-m", program, *args])


if __name__ == "__main__":
    main()
