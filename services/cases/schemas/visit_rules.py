"""Visit rules per roster population, and the due lists they make."""

from datetime import date

from pydantic import Field, field_validator

from services.cases.schemas.visits import VisitMode
from shared.schemas import Input, Output, PopulationCode, RowId


class VisitRuleSet(Input):
    station_id: RowId | None = Field(default=None, description="The station whose subtree the rule holds for; "
                                                               "default yours")
    population: PopulationCode
    every_days: int = Field(ge=1, le=366, description="A visit is due this many days after the last one")
    modes: list[VisitMode] = Field(min_length=1, max_length=3, description="The visit modes that count")

    @field_validator("modes")
    @classmethod
    def _unique(cls, modes: list[str]) -> list[str]:
        return list(dict.fromkeys(modes))


class VisitRuleRead(Output):
    id: str
    population: str
    every_days: int
    modes: list[str]
    station_id: int | None = Field(description="Where the rule is set: null for the platform's default")
    source: str | None = Field(default=None, description="Where a default comes from")
    version: int


class VisitRules(Output):
    station_id: int
    items: list[VisitRuleRead] = Field(description="The rule in force at the station for each population")


class VisitDue(Output):
    beneficiary_id: str
    name: str
    station_id: int
    worker_id: str | None = None
    populations: list[str] = Field(description="The rosters that make the visit due")
    village: str | None = None
    last_visited_on: date | None = Field(description="The last visit of a mode that counts")
    due_on: date
    overdue_days: int = Field(description="Days past due_on (0 when not yet due)")
    every_days: int


class VisitsDue(Output):
    items: list[VisitDue] = Field(description="Most overdue first")
    total: int = Field(description="Everyone due in the window, of which `items` is the first `limit`")
