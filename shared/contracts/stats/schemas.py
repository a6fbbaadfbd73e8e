"""The counting contract's question and answer (ARCHITECTURE.md "Counting contract")."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from shared.schemas import AnyDate
from shared.stats import MAX_PERIODS, PERIODS, GroupBy, Metric, too_many_periods


class StatsQuery(BaseModel):
    station_path: str = Field(description="Subtree to count, e.g. '/1/12/'")
    from_on: AnyDate = Field(alias="from")
    to_on: AnyDate = Field(alias="to", description="Inclusive")
    metrics: list[Metric] | None = Field(default=None, description="Default: all this service knows")
    group_by: list[GroupBy] = Field(default_factory=list, description=f"At most one period, of at most "
                                                                      f"{MAX_PERIODS} in the range")

    model_config = {"populate_by_name": True}

    @field_validator("group_by")
    @classmethod
    def _one_short_period(cls, group_by: list[str], info: ValidationInfo) -> list[str]:
        periods = [g for g in group_by if g in PERIODS]
        if len(periods) > 1:
            raise PydanticCustomError("one_period", "group by at most one period")
        from_on, to_on = info.data.get("from_on"), info.data.get("to_on")
        if periods and from_on and to_on and from_on <= to_on:
            problem = too_many_periods(from_on, to_on, periods[0])
            if problem is not None:
                raise problem
        return group_by

    @model_validator(mode="after")
    def _check(self) -> "StatsQuery":
        if self.to_on < self.from_on:
            raise PydanticCustomError("range", "'from' is after 'to'")
        return self


class StatsRow(BaseModel):
    metric: Metric
    population: str | None = None
    period: str | None = None
    station: int | None = None
    value: float


class StatsAnswer(BaseModel):
    rows: list[StatsRow]
    as_of: datetime | None = Field(default=None, description="The rows count everything committed before this "
                                   "moment (earlier than now when read on a lagging standby)")
