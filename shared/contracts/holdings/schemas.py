"""The holdings question and answer."""

from __future__ import annotations

from pydantic import BaseModel, Field


class HoldingsQuery(BaseModel):
    station_path: str = Field(pattern=r"^/(\d+/)+$", max_length=255, description="The subtree asked about")


class Holdings(BaseModel):
    records: dict[str, int] = Field(default_factory=dict,
                                    description="Live records per kind (table), only the kinds it has")
    open_work: dict[str, int] = Field(default_factory=dict, description="Work still going on, e.g. open_cases")

    @property
    def empty(self) -> bool:
        return not any(self.records.values()) and not any(self.open_work.values())
