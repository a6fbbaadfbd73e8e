"""docker-compose.yml: two replicas of every process behind a load balancer, the services on a
PostgreSQL of their own with a standby for figures; every long-running process has a health check
on its own /readyz, the parts name each other consistently, and `docker compose config` (and
`haproxy -c`) accept the files where those tools are installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from sqlalchemy.engine import make_url

from shared.server import config

ROOT = Path(__file__).resolve().parent.parent
HAPROXY = ROOT / "ops" / "compose" / "haproxy.cfg"
PORTS = {"gateway": 8000, "cases": 8001, "projects": 8002, "volunteers": 8003}
REPLICAS = {f"{name}-{i}": port for name, port in PORTS.items() for i in (1, 2)}
SERVICES = ("cases", "projects", "volunteers")


def compose() -> dict:
    # safe_load resolves the file's anchors and `<<` merge keys as compose does.
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def host(url: str) -> str:
    return make_url(url).host


def test_two_replicas_of_every_process_each_with_a_health_check():
    services = compose()["services"]
    assert set(REPLICAS) <= set(services)
    for name, service in services.items():
        if service.get("restart") == "no":  # a one-shot job (migrate): it exits, nothing to probe
            continue
        check = service.get("healthcheck")
        assert check and check.get("test"), f"{name} has no healthcheck"
        assert all(key in check for key in ("interval", "timeout", "retries")), name
    for name, port in REPLICAS.items():
        test = " ".join(services[name]["healthcheck"]["test"])
        # Readiness (the database reachable), on the port the process itself listens on.
        assert f"127.0.0.1:{port}/readyz" in test, name
        command = services[name]["command"]
        assert str(port) in command and command[:3] == ["python", "-m", "shared.server"], name
    for name in ("postgres", "postgres-services", "postgres-standby"):
        assert "pg_isready" in " ".join(services[name]["healthcheck"]["test"]), name


def test_no_uvicorn_believes_forwarded_headers_on_its_own():
    """Each process decides whose X-Forwarded-For to believe (TRUSTED_PROXIES); uvicorn's own proxy
    headers would believe any client on loopback (tests/gateway/test_client_address.py). Every
    process is started through shared.server, which turns them off."""
    services = compose()["services"]
    for name in REPLICAS:
        assert services[name]["command"][:3] == ["python", "-m", "shared.server"], name
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    command = next(line for line in dockerfile.splitlines() if line.startswith("CMD"))
    assert '"-m", "shared.server"' in command
    assert config("gateway.app:main", "0.0.0.0", 8000)["proxy_headers"] is False


def test_the_processes_run_as_a_role_that_does_not_own_the_schemas():
    services = compose()["services"]
    owner = services["postgres"]["environment"]["POSTGRES_USER"]
    migrate = services["migrate"]["environment"]
    for lineage in ("GATEWAY", *(s.upper() for s in SERVICES)):
        assert make_url(migrate[f"{lineage}_DATABASE_OWNER_URL"]).username == owner
        assert make_url(migrate[f"{lineage}_DATABASE_URL"]).username == "haolin_app", lineage
    for name in REPLICAS:
        env = services[name]["environment"]
        assert make_url(env["DATABASE_URL"]).username == "haolin_app", name
        if "READ_DATABASE_URL" in env:
            assert make_url(env["READ_DATABASE_URL"]).username == "haolin_app", name


def test_each_process_uses_the_database_its_schema_was_migrated_in():
    """The migrate job puts the gateway's schema on `postgres` and the services' on
    `postgres-services`: a process pointed elsewhere would find no tables."""
    services = compose()["services"]
    migrate = services["migrate"]["environment"]
    for name in REPLICAS:
        lineage = name.rsplit("-", 1)[0].upper()
        url = services[name]["environment"]["DATABASE_URL"]
        assert host(url) == host(migrate[f"{lineage}_DATABASE_URL"]) == host(migrate[f"{lineage}_DATABASE_OWNER_URL"])
    assert host(migrate["GATEWAY_DATABASE_URL"]) == "postgres"
    assert {host(migrate[f"{s.upper()}_DATABASE_URL"]) for s in SERVICES} == {"postgres-services"}


def test_the_services_read_figures_on_a_standby_of_their_own_primary():
    services = compose()["services"]
    for name in REPLICAS:
        if name.startswith("gateway"):
            continue
        assert host(services[name]["environment"]["READ_DATABASE_URL"]) == "postgres-standby", name
    standby = services["postgres-standby"]
    script = next(v.split(":")[0] for v in standby["volumes"] if v.endswith("/standby.sh:ro"))
    text = (ROOT / script).read_text()
    # A base backup of the services' primary, set up to stream (-R), then a hot standby.
    assert re.search(r"pg_basebackup -h postgres-services\b.*", text) and " -R " in text
    assert "hot_standby=on" in text
    init = next(v for v in services["postgres-services"]["volumes"] if "docker-entrypoint-initdb.d" in v)
    assert "REPLICATION" in (ROOT / init.split(":")[0]).read_text()


def test_only_the_load_balancer_is_published_and_it_sends_to_both_gateways():
    services = compose()["services"]
    published = {name for name, s in services.items() if s.get("ports")}
    assert published == {"lb"}
    assert all(p.startswith("127.0.0.1:") for p in services["lb"]["ports"])
    mounted = next(v for v in services["lb"]["volumes"] if v.endswith("haproxy.cfg:ro"))
    assert (ROOT / mounted.split(":")[0]).resolve() == HAPROXY
    config = HAPROXY.read_text()
    servers = dict(re.findall(r"^\s*server (\S+) (\S+)$", config, re.MULTILINE))
    assert servers == {"gateway-1": "gateway-1:8000", "gateway-2": "gateway-2:8000"}
    assert "option httpchk GET /readyz" in config
    # Retried on the other gateway only when nothing was sent: a create is never doubled here.
    assert re.search(r"^\s*retry-on conn-failure$", config, re.MULTILINE)
    # The client's address, not one it claims, is what the gateways are told (login limits, audit).
    assert "http-request del-header X-Forwarded-For" in config


def test_the_gateways_spread_over_both_replicas_of_each_service():
    services = compose()["services"]
    for gateway in ("gateway-1", "gateway-2"):
        env = services[gateway]["environment"]
        for service in SERVICES:
            urls = env[f"{service.upper()}_URLS"].split(",")
            assert [urlsplit(u).hostname for u in urls] == [f"{service}-1", f"{service}-2"]
            assert {urlsplit(u).port for u in urls} == {PORTS[service]}


def test_the_services_reach_the_gateways_through_the_load_balancer():
    """A service checks references to other services' records through the gateway (shared/contracts/lookup):
    inside compose that is the balancer, which sends it to a gateway that is up."""
    services = compose()["services"]
    for name in REPLICAS:
        if not name.startswith("gateway"):
            assert services[name]["environment"].get("GATEWAY_URL") == "http://lb:8000", name


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
    assert set(REPLICAS) | {"postgres", "postgres-services", "postgres-standby", "migrate", "lb"} == set(services)
    assert not re.search(r"(?i)warn", r.stderr), r.stderr


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed here")
def test_haproxy_accepts_the_balancers_config():
    r = subprocess.run(["haproxy", "-c", "-f", str(HAPROXY)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "Configuration file is valid" in r.stdout + r.stderr
