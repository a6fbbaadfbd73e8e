"""The projects a caller may see and file under; the generic record queries are in shared.repository."""

from sqlalchemy import Select, literal, or_, select

from services.projects.models import Project
from shared.models import PathType
from shared.principals import Principal
from shared.scope import under


def visible_projects(principal: Principal) -> Select:
    """Live projects of the caller's subtree, and those of the stations above it: a worker of a
    community room works under her street station's contract and must be able to file under it.
    Projects are contracts, not personal records, so seeing an ancestor's reveals no person."""
    above = under(literal(principal.station_path, PathType), Project.station_path)
    return select(Project).where(Project.deleted_at.is_(None),
                                 or_(under(Project.station_path, principal.station_path), above))
