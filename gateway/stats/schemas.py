"""The shapes of the stats answers, for the OpenAPI document (the routes write JSON bytes
straight from the cache, so these describe rather than validate)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class StationRef(BaseModel):
    id: int
    name: str
    kind: str | None
    deleted: bool | None = Field(default=None, description="A deleted child station whose records still count")


class Filters(BaseModel):
    station_id: int
    from_: str = Field(alias="from")
    to: str
    timezone: str = Field(description="Days are counted in this time zone")
    metric: str | None = None
    interval: str | None = None
    by: str | None = None


class Figure(BaseModel):
    value: float | None = Field(description="null when every service that counts it failed")
    by_population: dict[str, float] = Field(default_factory=dict)
    missing: list[str] = Field(default_factory=list, description="Services whose part is left out")
    exact: bool | None = Field(default=None, description="persons: true, a count of distinct person numbers")


class Answer(BaseModel):
    station: StationRef
    filters: Filters
    degraded: list[str] = Field(description="Services that did not answer in time; their figures are missing")
    as_of: str = Field(description="When the figures were computed; earlier when a service read them on a "
                                   "streaming standby that lags: everything committed before this moment is counted")


class Summary(Answer):
    figures: dict[str, Figure] = Field(description="person_times, persons, person_times.casework, cases.new, ...")
    system: dict[str, Figure] = Field(description="The station system: stations.total, stations.<tier>, "
                                                  "projects.active, staff.social_workers, ...")


class Period(BaseModel):
    period: str = Field(description="First day of the period (weeks start on Monday)")
    from_: str = Field(alias="from")
    to: str


class Series(BaseModel):
    population: str | None = Field(description="null: everyone")
    values: list[float] = Field(description="One per period, 0 when nothing happened")
    exact: bool | None = None


class Timeseries(Answer):
    metric: str
    interval: str
    periods: list[Period]
    missing: list[str]
    series: list[Series]


class StationValue(BaseModel):
    value: float | None
    exact: bool | None = None


class BreakdownRow(StationValue):
    station: StationRef


class Breakdown(Answer):
    metric: str
    missing: list[str]
    rows: list[BreakdownRow] = Field(description="Each child station's whole subtree; with `own`, they add up "
                                                 "to `total` (but for persons and active volunteers)")
    own: StationValue = Field(description="Records kept at the station itself")
    total: StationValue = Field(description="The whole subtree (persons: each once)")


NOT_MODIFIED = {304: {"description": "Not modified: the figures are those of the ETag in If-None-Match"}}
