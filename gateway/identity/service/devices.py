"""Station tablets: registration by an admin or the station's head, a credential of their
own, revocation; and checking that credential on every sync request.

The credential is `hl_dev_<device id>_<random>`: the id finds the row, the random part is
compared by its sha256 digest (it has 256 bits of entropy, so a slow hash buys nothing).
Revocation takes effect on the tablet's next request: nothing about a device is cached (the
check reads the device on the raw read pool, one prepared SELECT: repository/hot.py). A live
tablet's name is unique within its station, so a registration sent twice makes one tablet.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from asyncpg import Pool
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.errors import DuplicateName, StationNotFound
from gateway.identity.repository import hot
from gateway.identity.repository import stations as station_repo
from gateway.identity.service.rules import MANAGERS, require_role
from gateway.models import Device, Station
from shared.principals import Principal
from shared.errors import NotFound
from shared.repository import UniqueViolation, save
from shared.schemas import BIGINT_MAX
from shared.scope import under

PREFIX = "hl_dev_"


class DeviceNotFound(NotFound):
    default_detail = "No such device in your scope."


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def register(session: AsyncSession, actor: Principal, station_id: int, name: str) -> tuple[Device, str]:
    require_role(actor, MANAGERS, "register devices")
    station = await station_repo.get_in_scope(session, station_id, actor.station_path)
    if station is None:
        raise StationNotFound()
    secret = secrets.token_urlsafe(32)
    device = Device(station_id=station.id, name=name, secret_hash=_digest(secret), created_by=actor.user_id)
    try:
        await save(session, device)
    except UniqueViolation:
        raise DuplicateName.on("name", "This station already has a tablet of this name; revoke that one first, "
                                       "or choose another name.") from None
    await session.refresh(device)
    return device, f"{PREFIX}{device.id}_{secret}"


def _in_scope(actor: Principal):
    return select(Device).join(Station, Station.id == Device.station_id).where(
        under(Station.path, actor.station_path))


async def listed(session: AsyncSession, actor: Principal) -> Sequence[Device]:
    require_role(actor, MANAGERS, "see devices")
    return (await session.scalars(_in_scope(actor).order_by(Device.id))).all()


async def revoke(session: AsyncSession, actor: Principal, device_id: int) -> Device:
    require_role(actor, MANAGERS, "revoke devices")
    device = (await session.scalars(_in_scope(actor).where(Device.id == device_id).with_for_update(of=Device))).first()
    if device is None:
        raise DeviceNotFound()
    if device.revoked_at is None:
        device.revoked_at, device.revoked_by = datetime.now(UTC), actor.user_id
    return device


async def authenticate(pool: Pool, credential: str) -> tuple[Device, Station] | None:
    """The live device and its station for a credential, or None (unknown, wrong or revoked); both
    detached, read only."""
    if not credential.startswith(PREFIX):
        return None
    device_id, _, secret = credential[len(PREFIX):].partition("_")
    if not device_id.isdigit() or not secret or int(device_id) > BIGINT_MAX:
        return None
    found = await hot.device(pool, int(device_id))
    if found is None:
        return None
    device, station = found
    if not hmac.compare_digest(device.secret_hash, _digest(secret)) or device.revoked_at is not None:
        return None
    if station.deleted_at is not None:
        return None
    return device, station
