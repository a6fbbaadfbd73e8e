"""Community activity queries."""

from datetime import date

from services.projects.models import Activity
from shared.principals import Principal
from shared.repository import live
from shared.scope import under


def list_query(principal: Principal, *, station_path: str | None, project_id: str | None, kind: str | None,
               from_on: date | None, to_on: date | None):
    stmt = live(Activity, principal)
    if station_path:
        stmt = stmt.where(under(Activity.station_path, station_path))
    if project_id:
        stmt = stmt.where(Activity.project_id == project_id)
    if kind:
        stmt = stmt.where(Activity.kind == kind)
    if from_on:
        stmt = stmt.where(Activity.held_on >= from_on)
    if to_on:
        stmt = stmt.where(Activity.held_on <= to_on)
    return stmt
