from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class CasesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CASES_", extra="ignore")
