from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class VolunteersSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="VOLUNTEERS_", extra="ignore")
