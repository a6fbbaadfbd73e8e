"""Projects: contract data, output targets checked against the metric list, and the lifecycle
planned → running → evaluating → closed; evaluations filed under a project."""

from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from services.projects.errors import ProjectHasRecords, TransitionNotAllowed
from services.projects.models import Evaluation, Project, Station
from services.projects.repository import groups as groups_repo
from services.projects.repository import projects as repo
from services.projects.schemas.projects import (EvaluationCreate, EvaluationUpdate, ProjectCreate, ProjectUpdate,
                                                Target)
from shared.errors import InvalidInput
from shared.models import new_id
from shared.records import digest, replay, save_new, tombstone, touch
from shared.principals import Principal
from shared.scope import path_under
from shared.stations import resolve_station
from shared.stats import TARGET_METRICS, TARGET_RENAMED

CENT = Decimal("0.01")

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "start": (frozenset({"planned"}), "running"),
    "evaluate": (frozenset({"running"}), "evaluating"),
    "close": (frozenset({"evaluating", "running"}), "closed"),
    "reopen": (frozenset({"closed", "evaluating"}), "running"),
}


def allowed_actions(status: str) -> list[str]:
    return [action for action, (sources, _) in TRANSITIONS.items() if status in sources]


def check_targets(targets: list[Target]) -> list[dict]:
    """Targets as stored; a metric or condition not in shared.stats.TARGET_METRICS is refused by field.
    A former name (shared.stats.TARGET_RENAMED) is taken and stored under its new one."""
    targets = [t.model_copy(update={"metric": TARGET_RENAMED[t.metric]}) if t.metric in TARGET_RENAMED else t
               for t in targets]
    for i, target in enumerate(targets):
        if target.metric not in TARGET_METRICS:
            raise InvalidInput.field(f"targets[{i}].metric", f"Unknown metric; use one of: "
                                     f"{', '.join(sorted(TARGET_METRICS))}.", "unknown_metric")
        allowed = TARGET_METRICS[target.metric][1]
        for name in target.conditions:
            if name not in allowed:
                raise InvalidInput.field(f"targets[{i}].conditions.{name}",
                                         f"'{target.metric}' takes no condition '{name}'"
                                         + (f"; it takes: {', '.join(sorted(allowed))}." if allowed else "."),
                                         "unknown_condition")
    return [t.model_dump(mode="json") for t in targets]


def coverage(project: Project) -> list[int]:
    """The stations in whose subtrees the project's work counts (a case may join it, its casework
    figures count): those it covers, or its own station when it lists none."""
    return list(project.covered_station_ids) or [project.station_id]


async def covering(session: AsyncSession, principal: Principal, ids: list[str], station_id: int) -> list[Project]:
    """The live projects among `ids` that the caller can see and whose coverage holds the station."""
    paths = await repo.station_paths(session, {station_id})
    if station_id not in paths:
        return []
    projects = await repo.visible_by_ids(session, principal, ids)
    covered = await repo.station_paths(session, {s for p in projects for s in coverage(p)})
    return [p for p in projects
            if any(path_under(paths[station_id], covered[s]) for s in coverage(p) if s in covered)]


async def _covered(session: AsyncSession, principal: Principal, station_ids: list[int]) -> list[int]:
    for i, station_id in enumerate(station_ids):
        await resolve_station(session, Station, principal, station_id, field=f"covered_station_ids[{i}]")
    return list(dict.fromkeys(station_ids))


def _budget(lines) -> tuple[list[dict], Decimal]:
    total = sum((line.amount_yuan for line in lines), Decimal(0))
    return [line.model_dump(mode="json") for line in lines], total.quantize(CENT)


async def create(session: AsyncSession, principal: Principal, body: ProjectCreate) -> tuple[Project, bool]:
    create_digest = digest("project", body)
    if (existing := await replay(session, Project, body.id, create_digest, principal)) is not None:
        return existing, False
    targets = check_targets(body.targets)
    station_id, station_path = await resolve_station(session, Station, principal, body.station_id)
    covered = await _covered(session, principal, body.covered_station_ids)
    budget, total = _budget(body.budget)
    project = Project(id=body.id or new_id(), station_id=station_id, station_path=station_path, name=body.name,
                      purchaser=body.purchaser, operator=body.operator, covered_station_ids=covered,
                      starts_on=body.starts_on, ends_on=body.ends_on, status="planned", budget=budget,
                      budget_total_yuan=total, targets=targets, notes=body.notes, create_digest=create_digest,
                      created_by=principal.user_id, updated_by=principal.user_id, version=1)
    await save_new(session, project)
    return project, True


async def update(session: AsyncSession, principal: Principal, project: Project, expected_version: int,
                 body: ProjectUpdate) -> Project:
    fields = body.changes()
    touch(project, principal, expected_version)
    if "targets" in fields:
        fields["targets"] = check_targets(body.targets)
    if "budget" in fields:
        fields["budget"], fields["budget_total_yuan"] = _budget(body.budget)
    if "covered_station_ids" in fields:
        fields["covered_station_ids"] = await _covered(session, principal, body.covered_station_ids)
    starts, ends = fields.get("starts_on", project.starts_on), fields.get("ends_on", project.ends_on)
    if ends < starts:
        raise InvalidInput.field("ends_on", "The project cannot end before it starts.", "before_start")
    if (starts, ends) != (project.starts_on, project.ends_on) and await groups_repo.sessions_outside(
            session, project.id, starts, ends):
        field = "starts_on" if "starts_on" in fields else "ends_on"
        raise InvalidInput.field(field, "Sessions or activities of this project fall outside the new period.",
                                 "records_outside_period")
    for key, value in fields.items():
        setattr(project, key, value)
    return project


async def transition(principal: Principal, project: Project, action: str, expected_version: int | None) -> Project:
    sources, target = TRANSITIONS[action]
    if project.status not in sources:
        raise TransitionNotAllowed(action, project.status, allowed_actions(project.status))
    touch(project, principal, expected_version)
    project.status = target
    return project


async def delete(session: AsyncSession, principal: Principal, project: Project, expected_version: int) -> None:
    touch(project, principal, expected_version)
    if await repo.has_live_work(session, project.id):
        raise ProjectHasRecords()
    project.deleted_at = datetime.now(timezone.utc)


def _total(scores: dict) -> Decimal | None:
    given = [Decimal(str(v)) for v in scores.values() if v is not None]
    return sum(given, Decimal(0)).quantize(CENT) if given else None


async def add_evaluation(session: AsyncSession, principal: Principal, project: Project,
                         body: EvaluationCreate) -> tuple[Evaluation, bool]:
    create_digest = digest("evaluation", body, project.id)
    if (existing := await replay(session, Evaluation, body.id, create_digest, principal)) is not None:
        return existing, False
    scores = body.scores.model_dump(mode="json")
    record = Evaluation(id=body.id or new_id(), project_id=project.id, station_id=project.station_id,
                        station_path=project.station_path, evaluated_on=body.evaluated_on, evaluator=body.evaluator,
                        scores=scores, total_score=_total(scores), grade=body.grade, notes=body.notes,
                        create_digest=create_digest, created_by=principal.user_id, updated_by=principal.user_id,
                        version=1)
    await save_new(session, record)
    return record, True


def update_evaluation(principal: Principal, record: Evaluation, expected_version: int,
                      body: EvaluationUpdate) -> Evaluation:
    fields = body.changes()
    touch(record, principal, expected_version)
    if "scores" in fields:
        fields["scores"] = body.scores.model_dump(mode="json")
        fields["total_score"] = _total(fields["scores"])
    for key, value in fields.items():
        setattr(record, key, value)
    return record


def delete_evaluation(principal: Principal, record: Evaluation, expected_version: int) -> None:
    tombstone(record, principal, expected_version)
