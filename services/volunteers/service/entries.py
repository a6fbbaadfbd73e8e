"""Training, awards and evaluations on a volunteer's record (the 2021 rules' record contents)."""

from datetime import datetime, timezone

from sqlalchemy.ext.asyncio import AsyncSession

from services.volunteers.models import Volunteer, VolunteerEntry
from services.volunteers.schemas.volunteers import EntryCreate
from shared.models import new_id
from shared.principals import Principal
from shared.records import IdInUse, Vault, replay, touch
from shared.repository import UniqueViolation, save


async def create(session: AsyncSession, vault: Vault, principal: Principal, volunteer: Volunteer,
                 body: EntryCreate) -> tuple[VolunteerEntry, bool]:
    digest = vault.digest("entry", body, volunteer.id)
    existing = await replay(session, VolunteerEntry, body.id, digest, principal)
    if existing is not None:
        return existing, False
    entry = VolunteerEntry(id=body.id or new_id(), volunteer_id=volunteer.id, station_id=volunteer.station_id,
                           station_path=volunteer.station_path, create_digest=digest, created_by=principal.user_id,
                           updated_by=principal.user_id, version=1, **body.model_dump(exclude={"id"}))
    try:
        await save(session, entry)
    except UniqueViolation:
        raise IdInUse() from None
    return entry, True


def delete(principal: Principal, entry: VolunteerEntry, expected_version: int) -> None:
    touch(entry, principal, expected_version)
    entry.deleted_at = datetime.now(timezone.utc)
