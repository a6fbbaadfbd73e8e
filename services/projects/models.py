"""Tables of the projects service, in the `projects` schema."""

from shared.models import make_base
from shared.stations import station_replica_model

Base = make_base("projects")
Station = station_replica_model(Base)

# Tables with a station_path column, rewritten when a station moves.
PATH_TABLES: list = []
