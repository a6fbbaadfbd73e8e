"""Tables of the cases service, in the `cases` schema."""

from shared.models import make_base
from shared.stations import station_replica_model

Base = make_base("cases")
Station = station_replica_model(Base)

# Tables with a station_path column, rewritten when a station moves.
PATH_TABLES: list = []
