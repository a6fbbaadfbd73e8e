from fastapi import APIRouter, status

from services.cases.deps import ReadSessionDep, WriteSessionDep
from services.cases.errors import PopulationExists
from services.cases.models import Station
from services.cases.repository import beneficiaries as repo
from services.cases.schemas.beneficiaries import PopulationCreate, PopulationList, PopulationRead
from shared.errors import Forbidden
from shared.principals import Principal, PrincipalDep, Role

router = APIRouter(prefix="/v1/populations", tags=["populations"])


@router.get("", response_model=PopulationList)
async def list_populations(_: PrincipalDep, session: ReadSessionDep) -> PopulationList:
    """Population codes with their Chinese and English labels."""
    return PopulationList(items=[PopulationRead.model_validate(p) for p in await repo.list_populations(session)])


async def _may_change_codes(session, principal: Principal) -> bool:
    # One list for the whole platform (every station counts by it), so not any administrator's:
    # only one bound to the root station or to a province's.
    if principal.role is not Role.admin:
        return False
    station = await session.get(Station, principal.station_id)
    return station is not None and (station.parent_id is None or station.kind == "province")


@router.post("", response_model=PopulationRead, status_code=status.HTTP_201_CREATED)
async def add_population(body: PopulationCreate, principal: PrincipalDep, session: WriteSessionDep) -> PopulationRead:
    """Add a population code (administrators of the root station or of a province)."""
    if not await _may_change_codes(session, principal):
        raise Forbidden("Population codes are platform-wide: only an administrator of the root station or of a "
                        "province can add them.")
    created = await repo.add_population(session, body.model_dump())
    if created is None:
        raise PopulationExists()
    return PopulationRead.model_validate(created)
