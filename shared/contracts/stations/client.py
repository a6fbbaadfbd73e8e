"""The gateway's side: a service's cursor read, and changes after it pushed.

Failures are raised as they are (httpx's errors, a refused status): the pusher logs the
service and retries the round, and a push is idempotent."""

from __future__ import annotations

from collections.abc import Sequence

from shared.contracts.calls import Service
from shared.contracts.stations.schemas import StationPush, StationReplica, StationsApplied, StationsCursor

PATH = "/internal/stations"


async def cursor(service: Service) -> int:
    """The highest change_seq the service applied."""
    reply = await service.http.get(f"{PATH}/cursor", headers=service.headers())
    reply.raise_for_status()
    return StationsCursor.model_validate_json(reply.content).change_seq


async def push(service: Service, stations: Sequence[StationReplica]) -> int:
    """Send changed stations (in change order); how many the service applied."""
    body = StationPush(stations=list(stations)).model_dump(mode="json")
    reply = await service.http.put(PATH, json=body, headers=service.headers())
    reply.raise_for_status()
    return StationsApplied.model_validate_json(reply.content).applied
