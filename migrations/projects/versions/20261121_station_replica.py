"""projects schema: station tree replica and the sync-marker trigger function"""
from migrations.common import bound, create_station_replica, drop_station_replica

revision = "projects_0001"
down_revision = None

upgrade = bound(create_station_replica, "projects")
downgrade = bound(drop_station_replica, "projects")
