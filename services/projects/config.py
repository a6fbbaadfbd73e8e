from pydantic_settings import SettingsConfigDict

from shared.config import ResourceSettings


class ProjectsSettings(ResourceSettings):
    model_config = SettingsConfigDict(env_prefix="PROJECTS_", extra="ignore")
