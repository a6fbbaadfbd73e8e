"""PUT and GET /internal/sync/attachments/{attachment_id}: a tablet's file relayed by the gateway,
as the device (its token in DEVICE_TOKEN_HEADER), mounted by each service over its tables that take files."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from shared.attachments.files import attachment_files
from shared.attachments.routes import Owner, receive
from shared.audit import log_reads
from shared.principals import Principal, ServicePrincipalDep
from shared.contracts.sync.schemas import DEVICE_TOKEN_HEADER
from shared.errors import InvalidInput, Unauthorized
from shared.records import RecordNotFound
from shared.repository import get_live
from shared.schemas import ClientId
from shared.storage import ObjectNotFound
from shared.streaming import ClosingStreamingResponse
from shared.sync import DeviceTokenRequired
from shared.uploads import Kind, download_headers


@dataclass(frozen=True)
class TabletOwner:
    """A synced table whose records take files from tablets: its Owner and its ORM model."""

    owner: Owner
    model: type


def tablet_upload_router(owners: dict[str, TabletOwner], model) -> APIRouter:
    """PUT /internal/sync/attachments/{attachment_id}: a tablet's file, relayed by the gateway."""
    router = APIRouter(prefix="/internal/sync/attachments", tags=["internal"], include_in_schema=False)

    def device_of(request: Request) -> Principal:
        token = request.headers.get(DEVICE_TOKEN_HEADER, "").removeprefix("Bearer ").strip()
        if not token:  # the gateway always sends it: a call without it is malformed, not unauthenticated
            raise InvalidInput.field(DEVICE_TOKEN_HEADER, "The device's access token is required.", "missing")
        try:
            device = request.app.state.verifier.verify(token)
        except Unauthorized:
            device = None
        if device is None or device.device_id is None:
            raise DeviceTokenRequired(f"A tablet's file needs the device's access token in {DEVICE_TOKEN_HEADER}.")
        request.state.principal = device  # the audit log names the tablet
        return device

    @router.get("/{attachment_id}")
    async def tablet_download(attachment_id: ClientId, request: Request,
                              _: ServicePrincipalDep) -> ClosingStreamingResponse:
        device = device_of(request)
        async with request.app.state.db.read_sessions() as session:
            row = await get_live(session, model, attachment_id, device)
        if row is None:
            raise RecordNotFound("attachment")
        # A tablet acts for its station's social workers, who may read a child's files too.
        await log_reads(request, model.__tablename__, [(row.id, row.station_path)])
        files = attachment_files(request)
        try:
            chunks = await files.files.open(row.storage_key, digest=row.sha256)
        except ObjectNotFound:
            raise RecordNotFound("file") from None
        headers = download_headers(row.file_name, Kind(row.kind))
        del headers["Cache-Control"]  # every answer carries no-store and Vary: Authorization
        headers["Content-Length"] = str(row.size)
        return ClosingStreamingResponse(chunks, headers=headers, media_type=Kind(row.kind).media_type)

    @router.put("/{attachment_id}", status_code=status.HTTP_201_CREATED)
    async def tablet_upload(attachment_id: ClientId, request: Request, response: Response, _: ServicePrincipalDep,
                            table: Annotated[str, Query(max_length=40)], record_id: ClientId,
                            purpose: Annotated[str, Query(max_length=24)],
                            file_name: Annotated[str | None, Query(max_length=255)] = None) -> dict:
        device = device_of(request)
        spec = owners.get(table)
        if spec is None:
            raise InvalidInput.field("table", f"Files are taken on these tables: {', '.join(owners)}.", "no_files")
        if purpose not in spec.owner.purposes:
            raise InvalidInput.field("purpose", f"One of: {', '.join(spec.owner.purposes)}.", "enum")
        async with request.app.state.db.read_sessions() as session:
            record = await get_live(session, spec.model, record_id, device)
        if record is None:
            raise RecordNotFound(table)
        read, created = await receive(request, attachment_files(request), model, spec.owner, record, device,
                                      purpose, file_name, attachment_id)
        if not created:
            response.status_code = status.HTTP_200_OK
        return read.model_dump(mode="json")

    return router
