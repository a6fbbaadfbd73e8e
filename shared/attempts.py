"""Refused attempts that tell the caller about records they cannot see: audited, and limited per actor.

Registering an ID number already registered at a station outside the caller's scope is refused,
and the refusal itself tells that the person is registered somewhere in the province: tried in
bulk, it is a search of the province by ID number. Each such attempt goes to the audit log at once,
in a statement of its own (the refusal rolls the request's transaction back), and the audit log is
the counter: limits live in PostgreSQL, so every worker of every process counts the same
(ARCHITECTURE.md "Beyond one machine"). An actor (a user, or a tablet) with `limit` attempts in the
window is refused every registration that gives an ID number until the window has passed, so that
the refusal says nothing about any number.

The actor and the audit table are the session's, as for every audit row (shared/audit/listener.py); the
limit is the process's setting `DUPLICATE_ID_ATTEMPTS_PER_HOUR` (shared.config.ResourceSettings).
"""

from __future__ import annotations

from typing import ClassVar

from shared.audit.listener import session_actor
from shared.errors import Conflict, TooManyRequests
from shared.principals import Principal

WINDOW_S = 3600
ID_NUMBER_ELSEWHERE = "id_number_elsewhere"
# What a caller is told of a person registered where they cannot look: no id, no station.
REGISTERED_ELSEWHERE = "This person is registered at another station: ask for a transfer."


class DuplicateIdNumber(Conflict):
    """An ID number registered already. The body names the record to use instead when the caller
    can see it; otherwise it names nothing (neither the record nor its station). A service's own
    class says which record (`noun`) and where the number is unique."""

    type = "duplicate-id-number"
    noun: ClassVar[str] = "record"

    def __init__(self, existing_id: str | None) -> None:
        if existing_id is None:
            super().__init__(REGISTERED_ELSEWHERE, errors=[{"field": "id_number", "message": REGISTERED_ELSEWHERE,
                                                 "code": "registered_elsewhere"}])
            return
        super().__init__(f"A {self.noun} with this ID number is already registered.", existing_id=existing_id,
                         errors=[{"field": "id_number", "message": "already registered", "code": "duplicate"}])


class TooManyAttempts(TooManyRequests):
    type = "too-many-attempts"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("Too many registrations of people registered at other stations; try again later.",
                         headers={"Retry-After": str(retry_after_s)}, retry_after=retry_after_s)


def _context(session):
    sync = getattr(session, "sync_session", session)
    request = sync.info["request"]
    return request.app, session_actor(sync)


async def _used(conn_or_pool, table, actor_id: str, action: str) -> tuple[int, int]:
    """(attempts in the window, seconds until the oldest of them leaves it)."""
    row = await conn_or_pool.fetchrow(
        f'SELECT count(*) AS n, ceil(extract(epoch FROM min(at) + make_interval(secs => $3) - clock_timestamp())) '
        f'AS wait FROM "{table.schema}"."{table.name}" '
        "WHERE actor_id = $1 AND action = $2 AND at > clock_timestamp() - make_interval(secs => $3)",
        actor_id, action, WINDOW_S)
    return int(row["n"]), max(1, int(row["wait"] or 1))


async def check(session, action: str = ID_NUMBER_ELSEWHERE) -> None:
    """TooManyAttempts when the session's actor has used up the limit of `action`."""
    app, actor = _context(session)
    limit = app.state.settings.duplicate_id_attempts_per_hour
    used, wait = await _used(app.state.db.read_pool, app.state.audit_log.__table__, actor.user_id[:64], action)
    if used >= limit:
        raise TooManyAttempts(wait)


async def record(session, table: str, found: list[tuple[str, str]], action: str = ID_NUMBER_ELSEWHERE) -> None:
    """Audit one attempt per record found (id, station path) elsewhere, committed whatever becomes
    of the request; TooManyAttempts when that takes the actor over the limit."""
    if not found:
        return
    app, actor = _context(session)
    log = app.state.audit_log.__table__
    pool = app.state.db.read_pool
    await pool.execute(
        f'INSERT INTO "{log.schema}"."{log.name}" (actor_id, actor_role, device_id, address, request_id, operation, '
        "action, record_table, record_id, station_path) "
        "SELECT $1, $2, $3, $4, $5, $6, $7, $8, r.id, r.path FROM unnest($9::text[], $10::text[]) AS r(id, path)",
        *actor.row().values(), action, table, [str(i)[:64] for i, _ in found], [p for _, p in found])
    used, wait = await _used(pool, log, actor.user_id[:64], action)
    if used > app.state.settings.duplicate_id_attempts_per_hour:
        raise TooManyAttempts(wait)


async def name_if_visible(session, principal: Principal, table: str, existing: tuple[str, str] | None
                          ) -> str | None:
    """The id of the record (id, station path) that blocks the caller's write when the caller may
    read it, so that they can use it; otherwise None, and the attempt is audited and limited."""
    if existing is None:
        return None
    if visible(principal, existing[1]):
        return existing[0]
    await record(session, table, [existing])
    return None


def visible(principal: Principal, station_path: str) -> bool:
    """May the caller be told of a person's record at this station?"""
    return principal.may_read_personal and principal.in_scope(station_path)
