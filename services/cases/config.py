from pydantic_settings import SettingsConfigDict

from shared.config import ResourceSettings


class CasesSettings(ResourceSettings):
    model_config = SettingsConfigDict(env_prefix="CASES_", extra="ignore")
