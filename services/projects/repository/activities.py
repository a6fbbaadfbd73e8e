"""Community activity queries."""

from datetime import date

from services.projects.models import Activity
from shared.principals import Principal
from shared.repository import live, narrowed


def list_query(principal: Principal, *, station_path: str | None, project_id: str | None, kind: str | None,
               from_on: date | None, to_on: date | None):
    return narrowed(live(Activity, principal), Activity, station_path=station_path,
                    equal={"project_id": project_id, "kind": kind}, span=("held_on", from_on, to_on))
