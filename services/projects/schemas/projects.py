"""Projects (项目), their targets and budgets, and evaluations (考核评估)."""

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from shared.attachments.schemas import EvidenceGap
from shared.contracts.lookup.schemas import LookupQuery
from shared.schemas import AnyDate, CreateInput, Input, Output, PastDate, RecordRead, RowId, Short, Text, UpdateInput

ProjectStatus = Literal["planned", "running", "evaluating", "closed"]
Grade = Literal["excellent", "good", "pass", "fail"]
# An open list: civil_affairs, womens_federation, youth_league, disabled_federation, charity, foundation, other...
FundingSource = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
Yuan = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Score = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2)]


class BudgetLine(Input):
    source: FundingSource = Field(description="civil_affairs, womens_federation, youth_league, "
                                              "disabled_federation, charity, foundation, other, ...")
    amount_yuan: Yuan


class Target(Input):
    metric: Annotated[str, StringConstraints(min_length=1, max_length=40)] = Field(
        description="A name of shared.stats.TARGET_METRICS, e.g. groups, activities, person_times.casework")
    target: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
    conditions: dict[Annotated[str, StringConstraints(max_length=40)], Annotated[int, Field(ge=0, le=100_000)]] = (
        Field(default_factory=dict, max_length=5, description="e.g. {min_sessions: 4, min_members: 5}"))


class _Period(Input):
    @model_validator(mode="after")
    def _ordered(self):
        starts, ends = getattr(self, "starts_on", None), getattr(self, "ends_on", None)
        if starts and ends and ends < starts:
            raise ValueError("ends_on is before starts_on")
        return self


class ProjectCreate(CreateInput, _Period):
    name: Short
    purchaser: Short
    operator: Short
    station_id: RowId | None = Field(default=None, description="The station holding the contract; default yours")
    covered_station_ids: list[RowId] = Field(default_factory=list, max_length=500)
    starts_on: AnyDate
    ends_on: AnyDate
    budget: list[BudgetLine] = Field(default_factory=list, max_length=30)
    targets: list[Target] = Field(default_factory=list, max_length=50)
    notes: Text | None = None


class ProjectUpdate(UpdateInput, _Period):
    required_fields = frozenset({"name", "purchaser", "operator", "covered_station_ids", "starts_on", "ends_on",
                                 "budget", "targets"})

    name: Short | None = None
    purchaser: Short | None = None
    operator: Short | None = None
    covered_station_ids: list[RowId] | None = Field(default=None, max_length=500)
    starts_on: AnyDate | None = None
    ends_on: AnyDate | None = None
    budget: list[BudgetLine] | None = Field(default=None, max_length=30)
    targets: list[Target] | None = Field(default=None, max_length=50)
    notes: Text | None = None


class ProjectRead(RecordRead):
    name: str
    purchaser: str
    operator: str
    covered_station_ids: list[int]
    starts_on: date
    ends_on: date
    status: ProjectStatus
    budget: list[dict]
    budget_total_yuan: Decimal
    targets: list[dict]
    notes: str | None = None


class TargetProgress(Output):
    metric: str
    target: float
    conditions: dict[str, int]
    owner: str = Field(description="The service that counts it")
    value: float | None = Field(default=None, description="None while an external figure is missing")
    met: bool | None = None
    external: bool = False
    lacking_evidence: list[EvidenceGap] | None = Field(
        default=None, description="The records this target counts that lack their evidence (a session or activity "
                                  "without a sign-in sheet, a closed case without a closure report), oldest first")


class ProjectProgress(Output):
    project_id: str
    starts_on: date
    ends_on: date
    coverage: list[int] = Field(description="The stations in whose subtrees the project's work counts: those it "
                                            "covers, or its own station when it lists none")
    as_of: date
    counted_from: date = Field(description="Every target counts what was done from this day...")
    counted_to: date = Field(description="...to this one: the project's end or today, whichever is first "
                                         "(before counted_from: nothing to count yet)")
    targets: list[TargetProgress]
    degraded: list[str] = Field(default_factory=list)


class Scores(Input):
    administration: Score | None = None
    finance: Score | None = None
    output: Score | None = None
    social_evaluation: Score | None = None
    innovation: Score | None = None


class EvaluationCreate(CreateInput):
    evaluated_on: PastDate
    evaluator: Short
    scores: Scores = Field(default_factory=Scores)
    grade: Grade | None = None
    notes: Text | None = None


class EvaluationUpdate(UpdateInput):
    required_fields = frozenset({"evaluated_on", "evaluator", "scores"})

    evaluated_on: PastDate | None = None
    evaluator: Short | None = None
    scores: Scores | None = None
    grade: Grade | None = None
    notes: Text | None = None


class EvaluationRead(RecordRead):
    project_id: str
    evaluated_on: date
    evaluator: str
    scores: dict
    total_score: Decimal | None = None
    grade: Grade | None = None
    notes: str | None = None


class ProjectLookupQuery(LookupQuery):
    station_id: RowId = Field(description="The station of the record that would name the project")
