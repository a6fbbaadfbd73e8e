"""The tests marked `replicated` once more, on two gateway processes and two replicas of each service
(tests/fixtures/topology.py): a nested pytest with HAOLIN_TOPOLOGY=replicated, so that `make test` stays
the one command. The nested run's report, each process's last output included, is this test's failure."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import STARTED_WITH

ROOT = Path(__file__).resolve().parent.parent


def marking_modules() -> list[str]:
    """The test modules that mark a test `replicated`: collecting only them spares the nested run
    the whole suite's collection (20 s); the marker stays the one list of what runs there."""
    return sorted(str(path.relative_to(ROOT)) for path in (ROOT / "tests").rglob("test_*.py")
                  if path != Path(__file__).resolve() and "@pytest.mark.replicated" in path.read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_marked_tests_pass_on_two_gateways_and_two_replicas_of_each_service():
    modules = marking_modules()
    assert modules
    env = {**STARTED_WITH, "HAOLIN_TOPOLOGY": "replicated"}
    if env.get("TEST_DATABASE_URL"):
        # A database of its own: the nested run drops and rebuilds its database, and this run is using that one.
        url = make_url(env["TEST_DATABASE_URL"])
        env["TEST_DATABASE_URL"] = url.set(database=f"{url.database}_replicated").render_as_string(hide_password=False)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE", "--tb=short", "--color=no",
         *modules],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=840)
    lines = run.stdout.strip().splitlines()
    summary = lines[-1] if lines else "(no output)"
    assert run.returncode == 0, f"HAOLIN_TOPOLOGY=replicated pytest: {summary}\n\n{run.stdout[-30000:]}"
    # Every marked test ran there, none skipped.
    assert re.search(r"\b\d+ passed", summary) and "skipped" not in summary, run.stdout[-30000:]
