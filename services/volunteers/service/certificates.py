"""Certificates (志愿服务证明): issued by the station whose subtree organised the service.

"Whoever organises records; whoever records certifies": a certificate states the volunteer's
confirmed (or corrected) records in the period that the issuing station's subtree organised.
It is stored with its figures, content and a hash of them, so it reads the same forever; asking
again for the same volunteer and period while the records are unchanged answers the same
certificate, and a new number is issued only when the figures differ.
"""

import hashlib
from decimal import Decimal

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.volunteers.errors import unknown
from services.volunteers.models import Certificate, Station, Volunteer
from services.volunteers.repository import certificates as repo
from services.volunteers.repository import hours as hours_repo
from services.volunteers.repository.volunteers import next_number
from services.volunteers.schemas.certificates import CertificateCreate, CertificateRead
from services.volunteers.service import volunteers as volunteers_service
from services.volunteers.service.counting import CERTIFIED_STATUSES
from shared import clock, masking
from shared.errors import InvalidInput
from shared.models import new_id
from shared.records import Vault, found_or, replay, save_new
from shared.repository import get_live
from shared.principals import Principal
from shared.stations import resolve_station


def _context(record_id: str) -> str:
    return f"volunteers.certificate.id_number:{record_id}"


def content_hash(content: dict) -> str:
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def issue(session: AsyncSession, vault: Vault, principal: Principal,
                body: CertificateCreate) -> tuple[Certificate, bool]:
    digest = vault.digest("certificate", body)
    if (existing := await replay(session, Certificate, body.id, digest, principal)) is not None:
        return existing, False
    volunteer = found_or(await get_live(session, Volunteer, body.volunteer_id, principal),
                         lambda: unknown("volunteer_id", "volunteer"))
    records = await hours_repo.certified(session, principal, volunteer.id, body.from_on, body.to_on,
                                         CERTIFIED_STATUSES)
    if not records:
        raise InvalidInput.field("from", "No confirmed service hours organised in your subtree in this period.",
                                 "no_certified_hours")
    names = {}
    for r in records:
        if r.station_id not in names:
            names[r.station_id] = await repo.station_name(session, r.station_id) or str(r.station_id)
    items = [{"hours_id": r.id, "served_on": r.served_on.isoformat(), "hours": str(r.hours), "content": r.content,
              "activity": r.activity_title or r.activity_ref, "organiser": names[r.station_id]} for r in records]
    total = sum((Decimal(r.hours) for r in records), Decimal(0))
    content = {"volunteer": {"id": volunteer.id, "name": volunteer.name, "id_type": volunteer.id_type,
                             "volunteer_number": volunteer.volunteer_number},
               "from": body.from_on.isoformat(), "to": body.to_on.isoformat(), "total_hours": str(total),
               "items": items}
    digest_of_content = content_hash(content)
    same = await repo.same_issue(session, principal.station_id, volunteer.id, body.from_on, body.to_on,
                                 digest_of_content)
    if same is not None and body.id is None:
        return same, False
    today = clock.today()
    seq = await next_number(session, principal.station_id, "certificate", today.year)
    cert_id = body.id or new_id()
    station_id, station_path = await resolve_station(session, Station, principal, None)
    cert = Certificate(
        id=cert_id, station_id=station_id, station_path=station_path,
        number=f"{principal.station_id}-{today.year}-{seq:06d}", volunteer_id=volunteer.id,
        period_from=body.from_on, period_to=body.to_on, total_hours=total, record_count=len(records),
        content=content, content_hash=digest_of_content,
        id_number_enc=vault.cipher.encrypt(volunteers_service.id_number_of(vault, volunteer), _context(cert_id)),
        issuer_name=await repo.station_name(session, principal.station_id) or str(principal.station_id),
        handler_id=principal.user_id, handler_name=principal.name or principal.user_id, issued_on=today,
        create_digest=digest, created_by=principal.user_id, updated_by=principal.user_id, version=1)
    await save_new(session, cert)
    return cert, True


def to_read(vault: Vault, cert: Certificate, reveal: bool) -> CertificateRead:
    person = cert.content["volunteer"]
    id_number = vault.cipher.decrypt(cert.id_number_enc, _context(cert.id))
    return masking.apply(CertificateRead(
        id=cert.id, station_id=cert.station_id, version=cert.version, created_at=cert.created_at,
        updated_at=cert.updated_at, created_by=cert.created_by, updated_by=cert.updated_by, number=cert.number,
        volunteer_id=cert.volunteer_id, name=person["name"], id_type=person["id_type"], id_number=id_number,
        volunteer_number=person["volunteer_number"], period_from=cert.period_from, period_to=cert.period_to,
        total_hours=cert.total_hours, record_count=cert.record_count, items=cert.content["items"],
        issuer_name=cert.issuer_name, handler_id=cert.handler_id, handler_name=cert.handler_name,
        issued_on=cert.issued_on, content_hash=cert.content_hash), reveal)
