"""POST /v1/beneficiaries/lookup: the projects service checks attendee ids with it, through the
gateway and with the caller's own token, so the caller's scope decides what exists (shared/contracts/lookup)."""

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.cases.deps import ReadSessionDep
from services.cases.repository.lookup import visible_beneficiaries
from shared.contracts.lookup.schemas import LookupItem, LookupQuery
from shared.principals import PersonalReaderOr403

router = APIRouter(prefix="/v1/beneficiaries", tags=["beneficiaries"])


class BeneficiaryItem(LookupItem):
    populations: list[str]
    person_no: int = Field(description="The person's number, carried by records that count them in persons")


class LookupAnswer(BaseModel):
    items: list[BeneficiaryItem]


@router.post("/lookup", response_model=LookupAnswer)
async def lookup_beneficiaries(body: LookupQuery, principal: PersonalReaderOr403,
                               session: ReadSessionDep) -> LookupAnswer:
    """Which of these ids are beneficiaries you can see, with their current populations and person
    numbers; others are left out."""
    rows = await visible_beneficiaries(session, principal, list(dict.fromkeys(body.ids)))
    return LookupAnswer(items=[BeneficiaryItem(id=i, station_id=s, populations=list(p or []), person_no=n)
                               for i, s, p, n in rows])
