from pydantic import field_validator
from pydantic_settings import SettingsConfigDict

from services.cases.schemas.approvals import APPROVABLE_STEPS, DEFAULT_STEPS
from shared.config import ResourceSettings


class CasesSettings(ResourceSettings):
    model_config = SettingsConfigDict(env_prefix="CASES_", extra="ignore")

    # The steps that need a supervisor's approval where no station above a case sets a rule
    # (comma-separated; empty: none, for a deployment without supervisors).
    approval_default_steps: str = ",".join(DEFAULT_STEPS)

    @field_validator("approval_default_steps")
    @classmethod
    def _known_steps(cls, value: str) -> str:
        unknown = [s for s in value.split(",") if s.strip() and s.strip() not in APPROVABLE_STEPS]
        if unknown:
            raise ValueError(f"unknown steps {unknown}; known: {', '.join(APPROVABLE_STEPS)}")
        return value

    @property
    def default_steps(self) -> list[str]:
        wanted = {s.strip() for s in self.approval_default_steps.split(",") if s.strip()}
        return [s for s in APPROVABLE_STEPS if s in wanted]

    # A civil-affairs roster covers a township or a county: tens of thousands of people, where a
    # volunteer roster has hundreds (1 MB of CSV holds about 14,000 rows).
    import_max_rows: int = 20_000
