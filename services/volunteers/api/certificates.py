from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from services.volunteers.deps import IdReaderDep, ReadSessionDep, VaultDep, WriteSessionDep, own_volunteer_id
from services.volunteers.models import Certificate
from services.volunteers.repository import certificates as repo
from services.volunteers.repository.common import get_unscoped
from services.volunteers.schemas.certificates import CertificateCreate, CertificateRead
from services.volunteers.service import certificates as service
from services.volunteers.service import pdf
from shared.audit.reads import log_reads
from shared.etag import answer_created, set_etag
from shared.masking import in_full
from shared.pagination import Page, PageParams, make_page, page_params
from shared.principals import PersonalWriterOr403, Principal
from shared.records import RecordNotFound
from shared.repository import get_live, page

router = APIRouter(prefix="/v1/certificates", tags=["certificates"])
ORDER = [Certificate.created_at, Certificate.id]
PDF = "application/pdf"


def _one(principal: Principal) -> bool:
    # One certificate read: a volunteer reaches only their own (_load), staff who work with
    # volunteers see the number in full.
    return in_full(principal, one_record=True, own=True)


async def _load(session, principal: Principal, certificate_id: str) -> Certificate:
    own = await own_volunteer_id(principal, session)
    if own is not None:
        cert = await get_unscoped(session, Certificate, certificate_id)
        if cert is not None and cert.volunteer_id != own:
            cert = None
    else:
        cert = await get_live(session, Certificate, certificate_id, principal)
    if cert is None:
        raise RecordNotFound("certificate")
    return cert


async def _pdf_response(vault, principal: Principal, cert: Certificate) -> Response:
    # Laying out and embedding the font's glyphs is CPU work (a fraction of a second): off the event loop.
    body = await run_in_threadpool(pdf.render, service.to_read(vault, cert, _one(principal)))
    return Response(body, media_type=PDF, headers={
        "Content-Disposition": f'inline; filename="certificate-{cert.number}.pdf"', "ETag": f'"{cert.version}"'})


@router.get("", response_model=Page[CertificateRead])
async def list_certificates(principal: IdReaderDep, session: ReadSessionDep, vault: VaultDep,
                            paging: Annotated[PageParams, Depends(page_params)],
                            volunteer_id: Annotated[str | None, Query(max_length=64)] = None) -> dict:
    """Certificates issued in your subtree (a volunteer: their own), newest first."""
    stmt = repo.list_query(principal, own_volunteer_id=await own_volunteer_id(principal, session),
                           volunteer_id=volunteer_id)
    rows = await page(session, stmt, paging, ORDER)
    reveal = in_full(principal, one_record=False)
    return make_page(rows, paging, ["created_at", "id"], lambda c: service.to_read(vault, c, reveal))


@router.post("", response_model=CertificateRead, status_code=status.HTTP_201_CREATED)
async def issue_certificate(body: CertificateCreate, principal: PersonalWriterOr403, session: WriteSessionDep,
                            vault: VaultDep, response: Response) -> CertificateRead:
    """Issue a free certificate of confirmed service hours for a period; unchanged figures answer the same one."""
    cert, created = await service.issue(session, vault, principal, body)
    answer_created(response, created, cert.version, f"/v1/certificates/{cert.id}")
    return service.to_read(vault, cert, _one(principal))


# Before "/{certificate_id}", which would otherwise take "abc.pdf" for an id.
@router.get("/{certificate_id}.pdf", response_class=Response,
            responses={200: {"content": {PDF: {}}, "description": "The printable certificate"}})
async def certificate_pdf(certificate_id: str, principal: IdReaderDep, session: ReadSessionDep,
                          vault: VaultDep, request: Request) -> Response:
    """The certificate as a printable PDF."""
    cert = await _load(session, principal, certificate_id)
    await log_reads(request, "certificate", [(cert.id, cert.station_path)])
    return await _pdf_response(vault, principal, cert)


@router.get("/{certificate_id}", response_model=CertificateRead,
            responses={200: {"content": {PDF: {}}, "description": "JSON, or the PDF with Accept: application/pdf"}})
async def get_certificate(certificate_id: str, request: Request, principal: IdReaderDep, session: ReadSessionDep,
                          vault: VaultDep, response: Response):
    """One certificate, as JSON or, with Accept: application/pdf, as the printable PDF."""
    cert = await _load(session, principal, certificate_id)
    await log_reads(request, "certificate", [(cert.id, cert.station_path)])
    if PDF in request.headers.get("accept", ""):
        return await _pdf_response(vault, principal, cert)
    set_etag(response, cert.version)
    return service.to_read(vault, cert, _one(principal))
