"""Volunteers (志愿者), their training and awards entries, and roster import reports."""

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from services.volunteers.schemas.common import HoursOut, Name, Tag, UserId
from shared import masking
from shared.idnumber import normalise_id_number
from shared.masking import Masked
from shared.phone import Phone
from shared.spreadsheet import RowProblem
from shared.schemas import CreateInput, Input, Output, PastDate, RecordRead, RowId, Short, Text, UpdateInput

# 居民身份证, 护照, 港澳居民来往内地通行证 / 居住证, 台湾居民来往大陆通行证 / 居住证, other.
IdType = Literal["mainland_id", "passport", "hk_macau_permit", "taiwan_permit", "other"]
Gender = Literal["male", "female", "other", "unknown"]
VolunteerStatus = Literal["active", "paused", "left"]
EntryKind = Literal["training", "award", "evaluation"]

_DOCUMENT = re.compile(r"^[A-Z0-9()-]{5,32}$")


def normalise_document(id_type: str | None, value: str) -> str:
    """Mainland IDs get the GB 11643 check; other documents only a plausible shape (their formats vary)."""
    if id_type in (None, "mainland_id"):
        return normalise_id_number(value)
    value = "".join(value.split()).upper()
    if not _DOCUMENT.match(value):
        raise ValueError("must be 5 to 32 letters, digits, brackets or hyphens")
    return value


Hours = Annotated[Decimal, Field(gt=0, le=24, max_digits=5, decimal_places=2)]


class GuardianConsent(Input):
    """A minor volunteers only with a guardian's consent (Volunteer Service Regulations, art. 16)."""

    name: Name
    relation: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
    consented_on: PastDate


class VolunteerCreate(CreateInput):
    name: Name
    id_type: IdType = "mainland_id"
    id_number: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    phone: Phone | None = None
    gender: Gender | None = None
    birth_on: PastDate | None = Field(default=None, description="Default: from a mainland ID number")
    skills: list[Tag] = Field(default_factory=list, max_length=30)
    available_times: list[Tag] = Field(default_factory=list, max_length=30,
                                       description="Free labels such as 'weekend' or 'weekday_evening'")
    status: VolunteerStatus = "active"
    disclosure_consent: bool = Field(default=False, description="Consent to disclose the volunteer's data")
    guardian_consent: GuardianConsent | None = None
    volunteer_number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] | None \
        = Field(default=None, description="Default: station-year-sequence")
    user_id: UserId | None = Field(default=None, description="The volunteer's own login (station heads, admins)")
    station_id: RowId | None = None

    @field_validator("id_number")
    @classmethod
    def _document(cls, value: str, info: ValidationInfo) -> str:
        return normalise_document(info.data.get("id_type"), value)

    @field_validator("skills", "available_times")
    @classmethod
    def _dedupe(cls, values: list[str]) -> list[str]:
        return list(dict.fromkeys(values))


class VolunteerUpdate(UpdateInput):
    required_fields = frozenset({"name", "skills", "available_times", "status", "disclosure_consent"})

    name: Name | None = None
    phone: Phone | None = None
    gender: Gender | None = None
    skills: list[Tag] | None = Field(default=None, max_length=30)
    available_times: list[Tag] | None = Field(default=None, max_length=30)
    status: VolunteerStatus | None = None
    disclosure_consent: bool | None = None
    guardian_consent: GuardianConsent | None = None
    user_id: UserId | None = None


class GuardianConsentRead(Output):
    name: str
    relation: str
    consented_on: date


class VolunteerRead(RecordRead):
    name: str
    id_type: str
    id_number: Annotated[str, Masked(masking.id_number)] = Field(
        description="Masked in lists, and unless read by a station head or worker, or by the volunteer")
    phone: Annotated[str | None, Masked(masking.phone)] = None
    gender: str | None = None
    birth_on: date
    skills: list[str]
    available_times: list[str]
    volunteer_number: str
    status: str
    disclosure_consent: bool
    guardian_consent: GuardianConsentRead | None = None
    user_id: str | None = None
    registered_on: date
    certified_hours: HoursOut = Field(description="Confirmed (and corrected) service hours")
    star_level: int = Field(description="0-5, from certified hours and the configured thresholds")


class EntryCreate(CreateInput):
    kind: EntryKind
    title: Short
    issuer: Short | None = None
    occurred_on: PastDate
    hours: Hours | None = Field(default=None, description="Training hours")
    note: Text | None = None


class EntryRead(RecordRead):
    volunteer_id: str
    kind: str
    title: str
    issuer: str | None = None
    occurred_on: date
    hours: HoursOut | None = None
    note: str | None = None


class EntryList(Output):
    items: list[EntryRead]


class ImportReport(Output):
    dry_run: bool
    rows: int
    valid_rows: int
    created: int
    errors: list[RowProblem]
    ids: list[str] = Field(default_factory=list, description="Ids of the volunteers created, in file order")

