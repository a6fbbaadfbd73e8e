from pathlib import Path

from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings, _env, key_pem


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    # Only the gateway holds the private key; services get the public one.
    jwt_private_key: str | None = None
    jwt_private_key_file: Path | None = None
    access_ttl_s: int = 900
    refresh_ttl_s: int = 30 * 24 * 3600

    # First start on an empty database creates this admin; a password is generated
    # and printed once when ADMIN_PASSWORD is not set.
    admin_username: str = "admin"
    admin_password: str | None = None
    root_station_name: str = "省级社工服务平台"
    # A deployment for one city can start from a city root instead of a province.
    root_station_kind: str = "province"

    # argon2id cost; hashes made with other values are upgraded at the next login.
    password_time_cost: int = 3
    password_memory_kib: int = 65536
    password_parallelism: int = 4

    # Failed logins slow down per (account, client address), never the account for everyone:
    # after `login_free_failures` in a day from one address, each further attempt from it waits
    # `login_delay_s`, doubling with every failure, at most `login_max_delay_s` (identity/throttle.py).
    login_free_failures: int = 5
    login_delay_s: float = 1.0
    login_max_delay_s: float = 900.0
    # Per client address, attempts per minute before 429.
    login_per_address_per_minute: int = 30
    # Load balancers in front of the gateway whose X-Forwarded-For / X-Real-IP name the client (for the
    # login limits and the audit log). None by default: the gateway's peer is the client. Unprefixed
    # TRUSTED_PROXIES applies here too when GATEWAY_TRUSTED_PROXIES is not set.
    trusted_proxies: str = ""

    cases_url: str = "http://127.0.0.1:8001"
    projects_url: str = "http://127.0.0.1:8002"
    volunteers_url: str = "http://127.0.0.1:8003"
    # Several replicas of a service: their addresses, comma-separated (CASES_URLS=http://a:8001,http://b:8001);
    # when set, it replaces the single address above (gateway/upstream/replicas.py spreads over them).
    cases_urls: str = ""
    projects_urls: str = ""
    volunteers_urls: str = ""
    upstream_timeout_s: float = 10.0
    # Connecting to a replica longer than this counts it down, and the request goes to another:
    # a replica whose host is gone must not take the whole upstream_timeout_s of every request.
    upstream_connect_timeout_s: float = 2.0
    # A replica counted down is asked /readyz after replica_probe_s, then after twice as long each
    # time it still does not answer 200, at most replica_probe_max_s apart.
    replica_probe_s: float = 1.0
    replica_probe_max_s: float = 10.0
    # How often the station tree is re-pushed to services that missed a change.
    station_push_interval_s: float = 5.0

    # Dashboard aggregates (/v1/stats/*): an answer is shared by every poll for this long
    # (and clients are told to keep it as long); a service slower than stats_timeout_s is
    # left out and named in `degraded`.
    stats_cache_s: float = 5.0
    # After stats_cache_s, an answer is served for this much longer while a new one is computed
    # in the background, so no poll waits on a slow computation (0: every poll after
    # stats_cache_s waits for the new answer).
    stats_stale_s: float = 60.0
    # An answer that took long to compute is kept this many times its computation time, when
    # that is longer than stats_cache_s: recomputing a slow dashboard takes at most about
    # 1/stats_cache_per_compute of the time (0: always stats_cache_s).
    stats_cache_per_compute: float = 10.0
    stats_timeout_s: float = 3.0

    # Records (created + updated + deleted, all tables) one tablet push may carry; more is 413.
    # The body limit (max_body_bytes, here and at each service) must allow a push this large.
    sync_max_push_records: int = 10_000
    # A service's part of a push is many records in one transaction: longer than an ordinary hop.
    sync_push_timeout_s: float = 120.0
    # Tablet pulls and pushes served at once by this process (0: no limit); one that finds them all
    # taken waits this long for a slot, then is told 503 with Retry-After (gateway/sync/admission.py).
    sync_concurrency: int = 32
    sync_admission_wait_s: float = 10.0

    @model_validator(mode="after")
    def _gateway_fallbacks(self) -> "GatewaySettings":
        for field, env in (("jwt_private_key", "JWT_PRIVATE_KEY"), ("jwt_private_key_file", "JWT_PRIVATE_KEY_FILE"),
                           ("admin_password", "ADMIN_PASSWORD")):
            if getattr(self, field) in (None, "") and _env(env):
                value = _env(env)
                setattr(self, field, Path(value) if field.endswith("_file") else value)
        for name in ("cases", "projects", "volunteers"):
            for field in (f"{name}_url", f"{name}_urls"):
                value = _env(field.upper())
                if value and field not in self.model_fields_set:
                    setattr(self, field, value)
            self.service_urls(name)  # a malformed list stops the start, naming the setting
        return self

    def service_urls(self, name: str) -> tuple[str, ...]:
        """The addresses of one service's replicas: `<name>_urls` when set, else `<name>_url`."""
        listed = getattr(self, f"{name}_urls")
        urls = tuple(u.strip().rstrip("/") for u in listed.split(",") if u.strip()) if listed.strip() else ()
        urls = urls or (getattr(self, f"{name}_url").rstrip("/"),)
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{name.upper()}_URLS (or {name.upper()}_URL) must list http(s) addresses, "
                                 f"not {url!r}")
        if len(set(urls)) != len(urls):
            raise ValueError(f"{name.upper()}_URLS lists one address twice")
        return urls

    def private_key_pem(self) -> str:
        return key_pem(self.jwt_private_key, self.jwt_private_key_file, "JWT_PRIVATE_KEY")
