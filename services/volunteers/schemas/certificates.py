"""Volunteer service certificates (志愿服务证明)."""

from datetime import date
from typing import Annotated

from pydantic import Field

from services.volunteers.schemas.common import HoursOut
from shared import masking
from shared.masking import Masked
from shared.schemas import ClientId, CreateInput, OrderedPeriod, Output, PastDate, RecordRead


class CertificateCreate(CreateInput, OrderedPeriod):
    volunteer_id: ClientId
    from_on: PastDate = Field(alias="from")
    to_on: PastDate = Field(alias="to", description="Inclusive")

    model_config = {"populate_by_name": True}


class CertifiedService(Output):
    hours_id: str
    served_on: date
    hours: HoursOut
    content: str
    activity: str | None = None
    organiser: str


class CertificateRead(RecordRead):
    number: str
    volunteer_id: str
    name: str
    id_type: str
    id_number: Annotated[str, Masked(masking.id_number)] = Field(
        description="Masked in lists, and unless read by a station head or worker, or by the volunteer")
    volunteer_number: str
    period_from: date = Field(serialization_alias="from")
    period_to: date = Field(serialization_alias="to")
    total_hours: HoursOut
    record_count: int
    items: list[CertifiedService]
    issuer_name: str
    handler_id: str
    handler_name: str
    issued_on: date
    content_hash: str
