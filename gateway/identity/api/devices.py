"""/v1/devices: station tablets, registered and revoked by an admin or a station head."""

from __future__ import annotations

from fastapi import APIRouter, status

from gateway.deps import ActorDep, ReadSessionDep, WriteSessionDep
from gateway.identity.schemas import DeviceCreate, DeviceRead, DeviceRegistered
from gateway.identity.service import devices as service
from shared.schemas import RowId

router = APIRouter(prefix="/devices", tags=["devices"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def register(body: DeviceCreate, actor: ActorDep, session: WriteSessionDep) -> DeviceRegistered:
    """Register a tablet to a station in your subtree; the answer's `credential` is shown only now."""
    device, credential = await service.register(session, actor, body.station_id, body.name)
    return DeviceRegistered(**DeviceRead.model_validate(device).model_dump(), credential=credential)


@router.get("")
async def list_devices(actor: ActorDep, session: ReadSessionDep) -> list[DeviceRead]:
    """The tablets of your subtree, revoked ones included."""
    return [DeviceRead.model_validate(d) for d in await service.listed(session, actor)]


@router.post("/{device_id}/revoke")
async def revoke(device_id: RowId, actor: ActorDep, session: WriteSessionDep) -> DeviceRead:
    """The tablet's credential stops working at its next request; its unsynced changes stay on it."""
    return DeviceRead.model_validate(await service.revoke(session, actor, device_id))
