"""Files on beneficiaries (signed consent forms) and on cases (the case file: assessments, plans,
service records, the closure report), at .../attachments under each record (shared/attachments)."""

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.deps import IdWriterDep, ReadSessionDep, beneficiary_for_read, case_for_read
from services.cases.errors import BeneficiaryNotFound, CaseNotFound
from services.cases.models import Attachment, Beneficiary, Case
from services.privacy import is_child
from shared import clock
from shared.attachments import Owner, attachment_router
from shared.contracts.tablet_attachments.server import TabletOwner, tablet_upload_router
from shared.records import live_or_404

BENEFICIARY_PURPOSES = ("consent_form", "photo", "identity_document", "other")
# `closure_report` is the evidence a closed case needs (a project's progress names the cases lacking one).
CASE_PURPOSES = ("consent_form", "assessment", "service_plan", "service_record", "closure_report", "photo", "other")


async def beneficiary_for_upload(beneficiary_id: str, principal: IdWriterDep, session: ReadSessionDep) -> Beneficiary:
    return await live_or_404(session, Beneficiary, beneficiary_id, principal, missing=BeneficiaryNotFound)


async def case_for_upload(case_id: str, principal: IdWriterDep, session: ReadSessionDep) -> Case:
    return await live_or_404(session, Case, case_id, principal, missing=CaseNotFound)


async def beneficiary_is_child(session: AsyncSession, record: Beneficiary) -> bool:
    return is_child(record.birth_on, clock.today())


async def case_is_child(session: AsyncSession, record: Case) -> bool:
    person = await session.get(Beneficiary, record.beneficiary_id)
    return person is not None and is_child(person.birth_on, clock.today())


BENEFICIARY = Owner(table="beneficiary", name="beneficiary", read=beneficiary_for_read, write=beneficiary_for_upload,
                    purposes=BENEFICIARY_PURPOSES, child=beneficiary_is_child, tags=["beneficiaries", "attachments"])
CASE = Owner(table="case", name="case", read=case_for_read, write=case_for_upload, purposes=CASE_PURPOSES,
             child=case_is_child, tags=["cases", "attachments"])

router = APIRouter()
router.include_router(attachment_router("/v1/beneficiaries/{beneficiary_id}/attachments", BENEFICIARY, Attachment))
router.include_router(attachment_router("/v1/cases/{case_id}/attachments", CASE, Attachment))
# Tablets' files, relayed by the gateway, by the synced table of the record they belong to.
router.include_router(tablet_upload_router({"beneficiaries": TabletOwner(BENEFICIARY, Beneficiary),
                                            "cases": TabletOwner(CASE, Case)}, Attachment))
