"""The README's curl walkthrough runs as written against a real `make run` on other ports, set
through its one variable (`GW`): the casework flow, then the dashboard figures and the reports
it goes on to, in one bash session as a reader pastes them."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.test_make_run import start_run

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
# The sections whose first shell block the walkthrough is made of, in the order a reader pastes them.
SECTIONS = ("### The casework flow with curl", "### Dashboard figures", "### Reports and labels")

pytestmark = pytest.mark.slow


def shell_block(text: str, heading: str) -> str:
    """The first ```sh block after `heading`."""
    start = text.index(heading + "\n")
    match = re.compile(r"^```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL).search(text, start)
    assert match, heading
    return match.group(1)


def test_the_walkthrough_blocks_use_one_address_and_the_platforms_day():
    text = README.read_text()
    blocks = [shell_block(text, heading) for heading in SECTIONS]
    script = "\n".join(blocks)
    assert script.count("8000") == 1 and "GW=${GW:-http://127.0.0.1:8000}" in blocks[0]
    # Dates are the platform's days: no bare `date` of the shell's zone.
    assert re.findall(r"\$\(date ", script) == [], script
    assert "station_id=1\"" not in script and "station_id=1&" not in script


async def test_the_walkthrough_runs_as_written_against_make_run(database_url, tmp_path):
    text = README.read_text()
    script = "\n".join(shell_block(text, heading) for heading in SECTIONS)
    run = start_run(database_url, tmp_path)
    try:
        await run.wait_for("Haolin is running.")
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8",
               "GW": run.base, "ADMIN_PASSWORD": os.environ["ADMIN_PASSWORD"]}
        work = tmp_path / "reader"
        work.mkdir()
        done = await asyncio.to_thread(subprocess.run, ["bash", "-e", "-o", "pipefail", "-c", script], cwd=work,
                                       env=env, capture_output=True, text=True, timeout=300)
    finally:
        run.stop()
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    lines = done.stdout.splitlines()
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    # Each step's answer on a line of its own.
    assert lines[0] == "wang.li" and lines[1] == today, lines
    # The station's own approval rule (no step waits for a supervisor), then each step's new status.
    assert lines[2] == "[]", lines
    assert lines[3:8] == ["assessment", "planning", "intervention", "evaluation", "closed"], lines
    rows = json.loads(lines[8])
    casework = [r for r in rows if r["metric"] == "person_times.casework" and r.get("population") is None]
    assert [r["value"] for r in casework] == [1.0], rows
    figures = json.loads(lines[9])
    assert figures["person_times.casework"]["value"] == 1.0, figures
    system = json.loads(lines[10])
    # Her station: one township, where she is the one social worker, and she served there.
    assert {k: system[k]["value"] for k in ("stations.total", "stations.township", "stations.active",
                                            "staff.social_workers", "staff.active_workers")} == {
        "stations.total": 1, "stations.township": 1, "stations.active": 1, "staff.social_workers": 1,
        "staff.active_workers": 1}, system
    assert json.loads(lines[12])["station"]["name"] == "猛追湾街道社工站"
    assert "saved monthly.xlsx" in lines and (work / "monthly.xlsx").read_bytes().startswith(b"PK")
    assert "elderly" in json.loads(lines[-1])
