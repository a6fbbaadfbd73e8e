from fastapi import APIRouter, status

from services.cases.deps import ReadSessionDep, WriteSessionDep
from services.cases.errors import PopulationExists
from services.cases.repository import beneficiaries as repo
from services.cases.schemas.beneficiaries import PopulationCreate, PopulationList, PopulationRead
from shared.auth import PrincipalDep, Role
from shared.errors import Forbidden

router = APIRouter(prefix="/v1/populations", tags=["populations"])


@router.get("", response_model=PopulationList)
async def list_populations(_: PrincipalDep, session: ReadSessionDep) -> PopulationList:
    """Population codes with their Chinese and English labels."""
    return PopulationList(items=[PopulationRead.model_validate(p) for p in await repo.list_populations(session)])


@router.post("", response_model=PopulationRead, status_code=status.HTTP_201_CREATED)
async def add_population(body: PopulationCreate, principal: PrincipalDep, session: WriteSessionDep) -> PopulationRead:
    """Add a population code (admins only)."""
    if principal.role is not Role.admin:
        raise Forbidden("Only an administrator can add population codes.")
    created = await repo.add_population(session, body.model_dump())
    if created is None:
        raise PopulationExists()
    return PopulationRead.model_validate(created)
