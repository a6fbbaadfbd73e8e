"""Training, awards and evaluations on a volunteer's record (the 2021 rules' record contents)."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.volunteers.models import Volunteer, VolunteerEntry
from services.volunteers.schemas.volunteers import EntryCreate
from shared.models import new_id
from shared.records import Vault, replay, save_new, tombstone
from shared.principals import Principal


async def create(session: AsyncSession, vault: Vault, principal: Principal, volunteer: Volunteer,
                 body: EntryCreate) -> tuple[VolunteerEntry, bool]:
    digest = vault.digest("entry", body, volunteer.id)
    if (existing := await replay(session, VolunteerEntry, body.id, digest, principal)) is not None:
        return existing, False
    entry = VolunteerEntry(id=body.id or new_id(), volunteer_id=volunteer.id, station_id=volunteer.station_id,
                           station_path=volunteer.station_path, create_digest=digest, created_by=principal.user_id,
                           updated_by=principal.user_id, version=1, **body.model_dump(exclude={"id"}))
    await save_new(session, entry)
    return entry, True


def delete(principal: Principal, entry: VolunteerEntry, expected_version: int) -> None:
    tombstone(entry, principal, expected_version)
