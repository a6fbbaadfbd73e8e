"""Files on volunteer hours records (proof of the service: a sign-in sheet, a photo), at
.../attachments under the record (shared/attachments). Staff of the organising station read and
add them; a minor volunteer under 14's files are kept to the staff who work with them."""

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from services.volunteers.deps import IdWriterDep, ReadSessionDep
from services.volunteers.models import Attachment, ServiceHours, Volunteer
from services.privacy import is_child
from shared import clock
from shared.attachments import Owner, attachment_router
from shared.contracts.tablet_attachments.server import TabletOwner, tablet_upload_router
from shared.records import live_or_404
from shared.principals import PersonalReaderOr403, Principal

PURPOSES = ("proof", "photo", "other")


async def _hours(session: AsyncSession, principal: Principal, hours_id: str) -> ServiceHours:
    return await live_or_404(session, ServiceHours, hours_id, principal, kind="service hours record")


async def hours_for_read(hours_id: str, principal: PersonalReaderOr403, session: ReadSessionDep) -> ServiceHours:
    return await _hours(session, principal, hours_id)


async def hours_for_upload(hours_id: str, principal: IdWriterDep, session: ReadSessionDep) -> ServiceHours:
    return await _hours(session, principal, hours_id)


async def volunteer_is_child(session: AsyncSession, record: ServiceHours) -> bool:
    volunteer = await session.get(Volunteer, record.volunteer_id)
    return volunteer is not None and is_child(volunteer.birth_on, clock.today())


HOURS = Owner(table="service_hours", name="hours", read=hours_for_read, write=hours_for_upload, purposes=PURPOSES,
              child=volunteer_is_child, tags=["volunteer hours", "attachments"])

router = APIRouter()
router.include_router(attachment_router("/v1/volunteer-hours/{hours_id}/attachments", HOURS, Attachment))
# Tablets' proof of a shift, relayed by the gateway.
router.include_router(tablet_upload_router({"volunteer_hours": TabletOwner(HOURS, ServiceHours)}, Attachment))
