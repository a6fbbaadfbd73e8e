from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings, _env


class ProjectsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PROJECTS_", extra="ignore")

    # Attendees are checked against the casework API through the gateway, with the
    # caller's own token (services never call each other directly).
    gateway_url: str = "http://127.0.0.1:8000"
    lookup_timeout_s: float = 10.0

    @model_validator(mode="after")
    def _gateway_fallback(self) -> "ProjectsSettings":
        if "gateway_url" not in self.model_fields_set and _env("PROJECTS_GATEWAY_URL") is None and _env("GATEWAY_URL"):
            self.gateway_url = _env("GATEWAY_URL")
        return self
