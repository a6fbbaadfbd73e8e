"""docker-compose.yml: every long-running process has a health check on its own /readyz, and
`docker compose config` accepts the file where the compose plugin is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PROCESSES = {"gateway": 8000, "cases": 8001, "projects": 8002, "volunteers": 8003}


def compose() -> dict:
    # safe_load resolves the file's anchors and `<<` merge keys as compose does.
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_process_has_a_health_check():
    services = compose()["services"]
    assert set(PROCESSES) <= set(services)
    for name, service in services.items():
        if service.get("restart") == "no":  # a one-shot job (migrate): it exits, nothing to probe
            continue
        check = service.get("healthcheck")
        assert check and check.get("test"), f"{name} has no healthcheck"
        assert all(key in check for key in ("interval", "timeout", "retries")), name
    for name, port in PROCESSES.items():
        test = " ".join(services[name]["healthcheck"]["test"])
        # Readiness (the database reachable), on the port the process itself listens on.
        assert f"127.0.0.1:{port}/readyz" in test, name
        command = services[name]["command"]
        assert str(port) in command and "--factory" in command, name
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])


def test_no_uvicorn_believes_forwarded_headers_on_its_own():
    """Each process decides whose X-Forwarded-For to believe (TRUSTED_PROXIES); uvicorn's own proxy
    headers would believe any client on loopback (tests/gateway/test_client_address.py)."""
    services = compose()["services"]
    for name in PROCESSES:
        assert "--no-proxy-headers" in services[name]["command"], name
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    command = next(line for line in dockerfile.splitlines() if line.startswith("CMD"))
    assert "uvicorn" in command and "--no-proxy-headers" in command


def test_the_processes_run_as_a_role_that_does_not_own_the_schemas():
    from sqlalchemy.engine import make_url

    services = compose()["services"]
    owner = services["postgres"]["environment"]["POSTGRES_USER"]
    migrate = services["migrate"]["environment"]
    assert make_url(migrate["DATABASE_OWNER_URL"]).username == owner
    for name in [*PROCESSES, "migrate"]:
        assert make_url(services[name]["environment"]["DATABASE_URL"]).username == "haolin_app", name


def test_only_the_gateway_is_published():
    services = compose()["services"]
    published = {name for name, s in services.items() if s.get("ports")}
    assert published == {"gateway"}
    assert all(p.startswith("127.0.0.1:") for p in services["gateway"]["ports"])


def test_the_services_reach_the_gateway():
    """A service checks references to other services' records through the gateway (shared/contracts/lookup):
    inside compose it is `gateway`, not the loopback default."""
    services = compose()["services"]
    for name in ("cases", "projects", "volunteers"):
        assert services[name]["environment"].get("GATEWAY_URL") == "http://gateway:8000", name


def _compose_plugin() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=30)
    return probe.returncode == 0


@pytest.mark.skipif(not _compose_plugin(), reason="the docker compose plugin is not installed here")
def test_docker_compose_config_accepts_the_file():
    """`docker compose config` parses and validates without an engine."""
    r = subprocess.run(["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    services = subprocess.run(["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "--services"],
                              capture_output=True, text=True, timeout=60, cwd=ROOT).stdout.split()
    assert set(PROCESSES) | {"postgres", "migrate"} == set(services)
    assert not re.search(r"(?i)warn", r.stderr), r.stderr
