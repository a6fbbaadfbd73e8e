"""POST /v1/beneficiaries/lookup: the projects service checks attendee ids with it, through the
gateway and with the caller's own token, so the caller's scope decides what exists."""

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.cases.deps import ReadSessionDep
from services.cases.repository.lookup import visible_beneficiaries
from shared.auth import ReaderDep
from shared.schemas import CleanText

router = APIRouter(prefix="/v1/beneficiaries", tags=["beneficiaries"])
BeneficiaryId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class LookupQuery(CleanText):
    model_config = ConfigDict(extra="forbid")
    ids: list[BeneficiaryId] = Field(max_length=500)


class LookupItem(BaseModel):
    id: str
    station_id: int
    populations: list[str]


class LookupAnswer(BaseModel):
    items: list[LookupItem]


@router.post("/lookup", response_model=LookupAnswer)
async def lookup_beneficiaries(body: LookupQuery, principal: ReaderDep, session: ReadSessionDep) -> LookupAnswer:
    """Which of these ids are beneficiaries you can see, with their current populations; others are left out."""
    rows = await visible_beneficiaries(session, principal, list(dict.fromkeys(body.ids)))
    return LookupAnswer(items=[LookupItem(id=i, station_id=s, populations=list(p or [])) for i, s, p in rows])
