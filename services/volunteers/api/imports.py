from typing import Annotated

from fastapi import APIRouter, File, Query, Response, UploadFile, status

from services.volunteers.deps import SettingsDep, VaultDep, WriteSessionDep
from services.volunteers.models import Station
from services.volunteers.schemas.volunteers import ImportReport
from services.volunteers.service import roster
from shared.errors import PayloadTooLarge
from shared.principals import PersonalWriterOr403
from shared.schemas import RowId
from shared.stations import resolve_station

router = APIRouter(prefix="/v1/volunteers/import", tags=["volunteers"])


@router.post("", response_model=ImportReport, status_code=status.HTTP_201_CREATED,
             responses={200: {"model": ImportReport, "description": "A dry run: checked, nothing written"}})
async def import_roster(
    file: Annotated[UploadFile, File(description=".xlsx or CSV; header row of field names or 姓名, 证件号码, ...")],
    principal: PersonalWriterOr403, session: WriteSessionDep, vault: VaultDep, settings: SettingsDep,
    response: Response,
    dry_run: Annotated[bool, Query(description="Only check and report; write nothing")] = False,
    station_id: Annotated[RowId | None, Query(description="Register at this station; default yours")] = None,
) -> ImportReport:
    """Register a roster at once: every row or none; a bad row answers 422 with every problem (row, column, reason)."""
    content = await file.read(settings.import_max_bytes + 1)
    if len(content) > settings.import_max_bytes:
        raise PayloadTooLarge(f"The file is larger than {settings.import_max_bytes} bytes.", errors=[
            {"field": "file", "message": f"at most {settings.import_max_bytes} bytes", "code": "too_large"}])
    station = await resolve_station(session, Station, principal, station_id)
    report = await roster.run(session, vault, principal, content, file.filename, station, dry_run,
                              settings.import_max_rows)
    if dry_run:
        response.status_code = status.HTTP_200_OK
    return report


