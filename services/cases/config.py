from pydantic_settings import SettingsConfigDict

from shared.config import ResourceSettings


class CasesSettings(ResourceSettings):
    model_config = SettingsConfigDict(env_prefix="CASES_", extra="ignore")

    # A civil-affairs roster covers a township or a county: tens of thousands of people, where a
    # volunteer roster has hundreds (1 MB of CSV holds about 14,000 rows).
    import_max_rows: int = 20_000
