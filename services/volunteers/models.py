"""Tables of the volunteers service, in the `volunteers` schema."""

from shared.models import make_base
from shared.stations import station_replica_model

Base = make_base("volunteers")
Station = station_replica_model(Base)

# Tables with a station_path column, rewritten when a station moves.
PATH_TABLES: list = []
