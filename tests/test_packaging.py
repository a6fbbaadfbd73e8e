"""The project's own packaging metadata builds without a deprecation warning (`make install`
shows the build backend's warnings to everyone who installs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_metadata_builds_without_deprecation_warnings():
    # --dry-run: the build backend prepares the metadata, as `pip install -e .` does, and nothing is installed.
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-v", "--dry-run", "--no-deps",
                           "--ignore-installed", "--disable-pip-version-check", str(ROOT)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    output = done.stdout + done.stderr
    assert "Would install haolin" in output
    for warning in ("project.license", "deprecated", "SetuptoolsDeprecationWarning"):
        assert warning not in output, output[output.find(warning) - 500:][:1500]
