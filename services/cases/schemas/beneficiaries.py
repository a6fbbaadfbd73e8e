"""Beneficiaries (服务对象) and population codes."""

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints, field_validator

from services.cases.identity import NAME_MAX, normalise_id_number
from shared import masking
from shared.masking import Masked
from shared.phone import Phone
from shared.review import ReviewFlags
from shared.schemas import (CreateInput, Input, Output, PastDate, PopulationCode, RecordRead, RowId, Short, UpdateInput,
                            UserId)

IdNumber = Annotated[str, StringConstraints(max_length=32), AfterValidator(normalise_id_number)]
Gender = Literal["male", "female", "other", "unknown"]
# 全自理 / 半自理 / 失能
SelfCare = Literal["full", "partial", "none"]
# The seven categories of the national disability certificate.
DisabilityType = Literal["visual", "hearing", "speech", "physical", "intellectual", "mental", "multiple"]
NeedLevel = Literal["low", "medium", "high", "urgent"]
ConsentKind = Literal["service", "data_processing", "guardian", "information_sharing", "photo", "referral", "other"]


class Consent(Input):
    kind: ConsentKind
    given_on: PastDate
    by: Short = Field(description="Who consented: the person, or a named guardian")
    note: Annotated[str, StringConstraints(max_length=1000)] | None = None


class EmergencyContact(Input):
    name: Short
    relation: Annotated[str, StringConstraints(max_length=50)] | None = None
    phone: Phone | None = None


# The fields a create and an update take alike, each optional.
class _Details(Input):
    gender: Gender | None = None
    birth_on: PastDate | None = None
    id_number: IdNumber | None = None
    phone: Phone | None = None
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    emergency_contact: EmergencyContact | None = None
    self_care: SelfCare | None = None
    disability_type: DisabilityType | None = None
    disability_grade: int | None = Field(default=None, ge=1, le=4)
    need_level: NeedLevel | None = None
    worker_id: UserId | None = None


class _Profile(_Details):
    consents: list[Consent] = Field(default_factory=list, max_length=50)
    populations: list[PopulationCode] = Field(default_factory=list, max_length=30)

    @field_validator("populations")
    @classmethod
    def _dedupe(cls, codes: list[str]) -> list[str]:
        return list(dict.fromkeys(codes))


class BeneficiaryCreate(CreateInput, _Profile):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX)]
    station_id: RowId | None = None
    registered_on: PastDate | None = Field(
        default=None, description="The day the person's file was opened (建档), when entering an earlier paper "
                                  "file; today when left out. Counted as registered on that day.")


class _Rename(UpdateInput):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX)] | None = None


# Fields in the order of the documents: the bases' in reverse (the name, the details), then its own.
class BeneficiaryUpdate(_Details, _Rename):
    required_fields = frozenset({"name", "consents", "populations"})

    consents: list[Consent] | None = Field(default=None, max_length=50)
    populations: list[PopulationCode] | None = Field(default=None, max_length=30)

    @field_validator("populations")
    @classmethod
    def _dedupe(cls, codes: list[str] | None) -> list[str] | None:
        return None if codes is None else list(dict.fromkeys(codes))


class EmergencyContactRead(Output):
    name: Annotated[str, Masked(masking.name)]
    relation: Annotated[str | None, Masked(masking.hidden)] = None
    phone: Annotated[str | None, Masked(masking.phone)] = None


# How a person came to be registered: by a worker, or by a civil-affairs roster import (docs/rosters.md).
BeneficiarySource = Literal["direct", "roster"]


class BeneficiaryRead(RecordRead):
    name: str
    gender: str | None = None
    birth_on: date | None = None
    id_number: Annotated[str | None, Masked(masking.id_number)] = Field(
        default=None, description="Masked unless a single read by a station head or worker")
    phone: Annotated[str | None, Masked(masking.phone)] = None
    address: str | None = None
    emergency_contact: EmergencyContactRead | None = Field(default=None, description="Masked as the ID number")
    self_care: str | None = None
    disability_type: str | None = None
    disability_grade: int | None = None
    need_level: str | None = None
    worker_id: str | None = None
    consents: list[dict]
    populations: list[str]
    registered_on: date
    source: BeneficiarySource = "direct"
    review: ReviewFlags = None


class PopulationCreate(Input):
    code: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
    label_zh: Short
    label_en: Short
    sort_order: int = Field(default=1000, ge=0, le=1_000_000)


class PopulationRead(Output):
    code: str
    label_zh: str
    label_en: str
    sort_order: int


class PopulationList(Output):
    items: list[PopulationRead]


