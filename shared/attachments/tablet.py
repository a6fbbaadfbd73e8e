"""Station tablets' files: photos and scans taken offline, uploaded when a network is back, and the
attachments' metadata synced as a read-only table.

- Upload: the tablet PUTs the file to the gateway (`PUT /v1/sync/attachments/{id}` with its device
  credential), which streams it here (`PUT /internal/sync/attachments/{id}`, the gateway's service
  token and the device's own token in X-Device-Token, as a push). The id is the tablet's own: the
  same PUT again answers the stored file (200) without taking the body, so a tablet retries freely.
  The record it belongs to is named by its synced table and id, and must be in the device's subtree.
- Metadata: `attachment_sync_table` serves each service's attachments in the tablet's subtree
  (`case_attachments`...): read-only, the upload creates them. A pushed row of one the upload has
  made is left as it is; any other create, and every delete, is refused naming the record.
- Bytes: fetched on demand (`GET /v1/sync/attachments/{id}?table=case_attachments`, relayed to
  `GET /internal/sync/attachments/{id}` here), scoped to the device's subtree and audited as it.
"""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from shared.attachments.files import attachment_files
from shared.attachments.routes import Owner, receive
from shared.audit import log_reads
from shared.errors import InvalidInput, Unauthorized
from shared.principals import Principal, ServicePrincipalDep
from shared.records import RecordNotFound
from shared.repository import get_live
from shared.uploads import Kind, download_headers
from shared.schemas import ClientId
from shared.storage import ObjectNotFound
from shared.sync import DEVICE_TOKEN_HEADER, TIMESTAMPS, DeviceTokenRequired, SyncColumn, SyncContext, SyncTable

# The sync schema version that added the attachment tables.
SINCE = 4


@dataclass(frozen=True)
class TabletOwner:
    """A synced table whose records take files from tablets: its Owner and its ORM model."""

    owner: Owner
    model: type


def _refused(record_id: str) -> InvalidInput:
    return InvalidInput.field("id", "Attachments are added by uploading the file (PUT /v1/sync/attachments/{id}) "
                                    "and removed through the REST API.", "upload_first")


async def _create(session, ctx: SyncContext, row: dict) -> Any:
    raise _refused(row["id"])


async def _update(session, ctx: SyncContext, record, row: dict) -> Any:
    return record  # every column is read-only: nothing a push says changes the file


async def _delete(session, ctx: SyncContext, record) -> None:
    raise _refused(record.id)


def attachment_sync_table(name: str, model) -> SyncTable:
    """The service's attachments as a read-only synced table."""
    return SyncTable(
        name=name, model=model, since=SINCE,
        columns=(
            SyncColumn("owner_table", optional=False, readonly=True),
            SyncColumn("owner_id", optional=False, readonly=True, indexed=True),
            SyncColumn("purpose", optional=False, readonly=True),
            SyncColumn("file_name", readonly=True),
            SyncColumn("kind", optional=False, readonly=True),
            SyncColumn("size", "number", optional=False, readonly=True),
            SyncColumn("sha256", optional=False, readonly=True),
            SyncColumn("width", "number", readonly=True),
            SyncColumn("height", "number", readonly=True),
            SyncColumn("station_id", "number", readonly=True, indexed=True),
            *TIMESTAMPS,
        ),
        create=_create, update=_update, delete=_delete)


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
    async def tablet_download(attachment_id: ClientId, request: Request, _: ServicePrincipalDep) -> StreamingResponse:
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
        return StreamingResponse(chunks, headers=headers, media_type=Kind(row.kind).media_type)

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
