"""Request dependencies: sessions, the principal by what it may do, and records loaded in scope.

Ids outside the caller's subtree, and any personal id asked for by a role that sees only
aggregates, answer 404 exactly as a missing id. A volunteer (role) reaches only the
volunteer record linked to their login, and what hangs from it.
"""

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.volunteers.config import VolunteersSettings
from services.volunteers.errors import VolunteerNotFound
from services.volunteers.models import Station, Volunteer
from services.volunteers.repository import volunteers as repo
from shared.db import read_session, write_session
from shared.etag import required_version
from shared.principals import (Principal, PrincipalDep, Role, check_personal_reader_or_404,
                               check_personal_writer_or_404)
from shared.records import Vault, live_or_404
from shared.stations import subtree_dependency

WriteSessionDep = Annotated[AsyncSession, Depends(write_session, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(read_session)]
IfMatchDep = Annotated[int, Depends(required_version)]


async def vault(request: Request) -> Vault:
    return request.app.state.vault


async def settings(request: Request) -> VolunteersSettings:
    return request.app.state.settings


VaultDep = Annotated[Vault, Depends(vault)]
SettingsDep = Annotated[VolunteersSettings, Depends(settings)]


async def id_reader(principal: PrincipalDep) -> Principal:
    """Staff who read personal records, or a volunteer (who is then limited to their own)."""
    if principal.role is not Role.volunteer:
        check_personal_reader_or_404(principal)
    return principal


async def id_writer(principal: PrincipalDep) -> Principal:
    check_personal_writer_or_404(principal, "volunteer records")
    return principal


# The 404 answers of shared.principals, with a volunteer also let read their own record.
IdReaderDep = Annotated[Principal, Depends(id_reader)]
IdWriterDep = Annotated[Principal, Depends(id_writer)]


async def own_volunteer_id(principal: Principal, session: AsyncSession) -> str | None:
    """The volunteer record linked to a volunteer's login, or None for every other role."""
    if principal.role is not Role.volunteer:
        return None
    own = await repo.linked_to(session, principal.user_id)
    if own is None:
        raise VolunteerNotFound()
    return own.id


async def volunteer_for_read(volunteer_id: str, principal: IdReaderDep, session: ReadSessionDep) -> Volunteer:
    if principal.role is Role.volunteer:
        record = await repo.linked_to(session, principal.user_id)
        if record is None or record.id != volunteer_id:
            raise VolunteerNotFound()
        return record
    return await live_or_404(session, Volunteer, volunteer_id, principal, missing=VolunteerNotFound)


async def volunteer_for_write(volunteer_id: str, principal: IdWriterDep, session: WriteSessionDep) -> Volunteer:
    return await live_or_404(session, Volunteer, volunteer_id, principal, for_update=True,
                             missing=VolunteerNotFound)


VolunteerDep = Annotated[Volunteer, Depends(volunteer_for_read)]
VolunteerForUpdateDep = Annotated[Volunteer, Depends(volunteer_for_write)]


SubtreeDep = Annotated[str | None, Depends(subtree_dependency(Station))]
