from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import ResourceSettings


class VolunteersSettings(ResourceSettings):
    model_config = SettingsConfigDict(env_prefix="VOLUNTEERS_", extra="ignore")

    # Certified hours at which a volunteer reaches 1..5 stars (VOLUNTEERS_STAR_THRESHOLDS='[100,300,...]').
    star_thresholds: list[float] = Field(default=[100, 300, 600, 1000, 1500], min_length=1, max_length=10)
