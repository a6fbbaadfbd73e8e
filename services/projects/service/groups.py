"""Groups and their sessions: filed under a project's stations, dated inside its period,
members and attendees checked with the casework service."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.projects.errors import outside_period
from services.projects.models import Group, GroupSession, Project, Station
from services.projects.repository import groups as repo
from services.projects.repository import projects as projects_repo
from services.projects.schemas.work import AttendanceBatch, GroupCreate, GroupUpdate, SessionCreate, SessionUpdate
from services.projects.service import attendance
from services.projects.service.counting import Rollup
from shared import clock
from shared.errors import InvalidInput
from shared.contracts.lookup.client import Asker
from shared.models import new_id
from shared.records import digest, replay, save_new, tombstone, touch
from shared.repository import by_id
from shared.principals import Principal
from shared.scope import path_under
from shared.stations import resolve_station


async def station_under(session: AsyncSession, principal: Principal, project: Project,
                        station_id: int | None) -> tuple[int, str]:
    """A station of the caller's scope that the project reaches (its own station or one below it)."""
    station = await resolve_station(session, Station, principal, station_id)
    if not path_under(station[1], project.station_path):
        raise InvalidInput.field("station_id", "This station is outside the project's stations.",
                                 "outside_project")
    return station


async def project_for_work(session: AsyncSession, principal: Principal, project_id: str) -> Project:
    """The project a new group or activity is filed under: one the caller can see."""
    project = await projects_repo.get_visible(session, principal, project_id)
    if project is None:
        raise InvalidInput.field("project_id", "No such project in your scope.", "unknown_project")
    return project


async def project_of(session: AsyncSession, record) -> Project:
    return await by_id(session, Project, record.project_id)


def in_period(project: Project, day, field: str) -> None:
    if not project.starts_on <= day <= project.ends_on:
        raise outside_period(field)


async def check_members(asker: Asker, members: list[str]) -> list[str]:
    members = list(dict.fromkeys(members))
    await attendance.check(asker, members, [f"members[{i}]" for i in range(len(members))])
    return members


async def create(session: AsyncSession, asker: Asker, principal: Principal,
                 project: Project, body: GroupCreate) -> tuple[Group, bool]:
    create_digest = digest("group", body)
    if (existing := await replay(session, Group, body.id, create_digest, principal)) is not None:
        return existing, False
    station_id, station_path = await station_under(session, principal, project, body.station_id)
    starts_on = body.starts_on or clock.today()
    in_period(project, starts_on, "starts_on")
    members = await check_members(asker, body.members)
    group = Group(id=body.id or new_id(), station_id=station_id, station_path=station_path, project_id=project.id,
                  title=body.title, kind=body.kind, target_population=body.target_population,
                  planned_sessions=body.planned_sessions, stage=body.stage, starts_on=starts_on, members=members,
                  create_digest=create_digest, created_by=principal.user_id, updated_by=principal.user_id, version=1)
    await save_new(session, group)
    rollup = Rollup()
    rollup.group(group, +1)
    await rollup.write(session)
    return group, True


async def update(session: AsyncSession, asker: Asker, principal: Principal,
                 project: Project, group: Group, expected_version: int, body: GroupUpdate) -> Group:
    fields = body.changes()
    touch(group, principal, expected_version)
    if "starts_on" in fields:
        in_period(project, fields["starts_on"], "starts_on")
    if "members" in fields:
        added = [m for m in dict.fromkeys(fields["members"]) if m not in group.members]
        await check_members(asker, added)
        fields["members"] = list(dict.fromkeys(fields["members"]))
    counted = {"starts_on", "target_population"} & fields.keys()
    rollup = Rollup()
    sessions = await repo.live_sessions(session, group.id) if "target_population" in fields else []
    if counted:
        rollup.group(group, -1)
        for s in sessions:
            rollup.session(s, group.target_population, -1)
    for key, value in fields.items():
        setattr(group, key, value)
    if counted:
        rollup.group(group, +1)
        for s in sessions:
            rollup.session(s, group.target_population, +1)
        await rollup.write(session)
    return group


async def delete(session: AsyncSession, principal: Principal, group: Group, expected_version: int) -> None:
    """A tombstone for the group, its sessions and their attendance; the counts are taken back."""
    tombstone(group, principal, expected_version)
    sessions = await repo.live_sessions(session, group.id)
    rollup = Rollup()
    rollup.group(group, -1)
    for s in sessions:
        rollup.session(s, group.target_population, -1)
    await attendance.take_back(session, sessions, rollup, principal.user_id)
    await repo.tombstone_sessions(session, group.id, principal.user_id)
    await rollup.write(session)


async def add_session(session: AsyncSession, asker: Asker, principal: Principal,
                      project: Project, group: Group, body: SessionCreate) -> tuple[GroupSession, bool]:
    create_digest = digest("group_session", body, group.id)
    if (existing := await replay(session, GroupSession, body.id, create_digest, principal)) is not None:
        return existing, False
    in_period(project, body.held_on, "held_on")
    record = GroupSession(id=body.id or new_id(), group_id=group.id, project_id=group.project_id,
                          station_id=group.station_id, station_path=group.station_path, held_on=body.held_on,
                          starts_at=body.starts_at, topic=body.topic, anonymous_count=0, named_count=0,
                          notes=body.notes, create_digest=create_digest, created_by=principal.user_id,
                          updated_by=principal.user_id, version=1)
    await save_new(session, record)
    rollup = Rollup()
    rollup.session(record, group.target_population, +1)
    await rollup.write(session)
    # An unknown attendee fails the whole request: the request's transaction is rolled back.
    await attendance.replace(session, asker, principal, record,
                             AttendanceBatch(attendees=body.attendees, anonymous_count=body.anonymous_count))
    record.version = 1
    return record, True


async def update_session(session: AsyncSession, principal: Principal, project: Project, group: Group,
                         record: GroupSession, expected_version: int, body: SessionUpdate) -> GroupSession:
    fields = body.changes()
    touch(record, principal, expected_version)
    if "held_on" in fields:
        in_period(project, fields["held_on"], "held_on")
    rollup = Rollup()
    rollup.session(record, group.target_population, -1)
    await attendance.move(session, record, rollup, -1)
    for key, value in fields.items():
        setattr(record, key, value)
    rollup.session(record, group.target_population, +1)
    await attendance.move(session, record, rollup, +1)
    await rollup.write(session)
    return record


async def delete_session(session: AsyncSession, principal: Principal, group: Group, record: GroupSession,
                         expected_version: int) -> None:
    tombstone(record, principal, expected_version)
    rollup = Rollup()
    rollup.session(record, group.target_population, -1)
    await attendance.take_back(session, [record], rollup, principal.user_id)
    await rollup.write(session)
