"""cases schema: station tree replica and the sync-marker trigger function"""
from functools import partial

from migrations.common import create_station_replica, drop_station_replica

revision = "cases_0001"
down_revision = None

upgrade = partial(create_station_replica, "cases")
downgrade = partial(drop_station_replica, "cases")
