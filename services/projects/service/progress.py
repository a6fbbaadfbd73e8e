"""A project's progress against its contract targets: figures this service owns are counted
from the project's records; the others are named as external for the gateway to fill in.

Every target counts what was done within the project's period up to today (`counting_period`):
the gateway counts the casework targets over the same days. A group counts when it started in
that period, its sessions toward `min_sessions` when they were held in it; sessions, activities,
their person-times and resources when they were held in it. Work planned for a later day is no
output yet.
"""

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.projects.models import Project
from services.projects.repository import projects as repo
from services.projects.schemas.projects import ProjectProgress, TargetProgress
from services.projects.service import evidence
from services.projects.service.projects import coverage
from shared import clock
from shared.stats import TARGET_METRICS

OWN = "projects"


def counting_period(project: Project, today: date) -> tuple[date, date]:
    """The days a project's outputs are counted over: from its start to its end or today, whichever
    comes first (empty, `to` before `from`, until it starts)."""
    return project.starts_on, min(project.ends_on, today)


async def progress(session: AsyncSession, project: Project) -> ProjectProgress:
    figures: dict[str, object] = {}
    today = clock.today()
    from_on, to_on = counting_period(project, today)

    async def load(name: str):
        if name not in figures:
            if name == "groups":
                figures[name] = await repo.group_figures(session, project.id, from_on, to_on)
            elif name == "sessions":
                figures[name] = await repo.session_person_times(session, project.id, from_on, to_on)
            else:
                figures[name] = await repo.activity_figures(session, project.id, from_on, to_on)
        return figures[name]

    rows = []
    for target in project.targets:
        metric, goal, conditions = target["metric"], float(target["target"]), target.get("conditions") or {}
        owner = TARGET_METRICS.get(metric, ("unknown", frozenset()))[0]
        row = TargetProgress(metric=metric, target=goal, conditions=conditions, owner=owner)
        if owner != OWN:
            row.external = True
        else:
            row.value = float(await _value(load, metric, conditions))
            row.met = row.value >= goal
        rows.append(row)
    await evidence.mark_gaps(session, project.id, from_on, to_on, rows)
    return ProjectProgress(project_id=project.id, starts_on=project.starts_on, ends_on=project.ends_on,
                           coverage=coverage(project), as_of=today, counted_from=from_on, counted_to=to_on,
                           targets=rows)


async def _value(load, metric: str, conditions: dict) -> float:
    if metric == "groups":
        sessions, members = conditions.get("min_sessions", 0), conditions.get("min_members", 0)
        return sum(1 for s, m in await load("groups") if s >= sessions and m >= members)
    if metric == "group_sessions":
        return (await load("sessions"))[0]
    if metric == "person_times.group":
        return (await load("sessions"))[1]
    activities = await load("activities")
    if metric == "activities":
        least = conditions.get("min_participants", 0)
        return sum(1 for participants, _ in activities if participants >= least)
    if metric == "person_times.community":
        return sum(p for p, _ in activities)
    if metric == "resources.linked_yuan":
        return sum(y for _, y in activities)
    raise ValueError(metric)
