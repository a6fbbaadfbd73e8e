"""Offline sync for station tablets: the WatermelonDB protocol at /v1/sync (docs/sync.md).

The gateway authenticates the tablet, maps its one `timestamp` to each service's own cursor,
merges the services' pull streams into one WatermelonDB answer, and splits a push by table
to the services that own the tables, dry-running it everywhere before writing anywhere.
"""
