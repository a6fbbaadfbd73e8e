"""Offline sync between the gateway and the services (ARCHITECTURE.md "Offline sync for station
tablets"): the tables each service syncs, a pull's NDJSON stream (ndjson.py) and a push in two
phases. The services' routes are shared.sync's internal_sync_router."""
