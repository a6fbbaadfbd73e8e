"""PUT /v1/sync/attachments/{attachment_id}: a station tablet's photo or scan, taken offline.

The tablet names the record the file belongs to by its synced table and id (`table=group_sessions`,
`record_id=...`) and gives the file its own id, which makes the upload idempotent: the same PUT
again answers the stored file (200) without the service taking the body again. The body streams
through to the service that owns the table (shared.contracts.tablet_attachments), as the device; the
file's metadata reaches every tablet of the station with its next pull (`case_attachments`...).
"""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from starlette.background import BackgroundTask

from gateway.sync.api import DeviceDep, _as_principal
from gateway.sync.registry import registry
from shared.attachments.routes import MEDIA_TYPES
from shared.audit import actor_of
from shared.contracts.calls import service
from shared.contracts.tablet_attachments import client as files_contract
from shared.contracts.tablet_attachments.schemas import AttachmentRead, UploadQuery
from shared.errors import InvalidInput
from shared.schemas import ClientId
from shared.streaming import ClosingStreamingResponse

router = APIRouter(prefix="/v1/sync/attachments", tags=["sync"])
_BODY = {"requestBody": {"required": True, "description": "The file itself, as the whole body",
                         "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in MEDIA_TYPES}}}


@router.put("/{attachment_id}", status_code=201, response_model=AttachmentRead, openapi_extra=_BODY,
            responses={200: {"model": AttachmentRead, "description": "The same id again: the file it stored"},
                       413: {"description": "The file is larger than UPLOAD_MAX_BYTES"},
                       415: {"description": "The file is not a JPEG, PNG, HEIC or PDF (told by its content)"},
                       503: {"description": "The service that owns the table did not answer: upload again"}})
async def upload_from_tablet(
    attachment_id: ClientId, request: Request, device: DeviceDep,
    table: Annotated[str, Query(max_length=40, description="The synced table of the record: beneficiaries, cases, "
                                                           "group_sessions, activities, volunteer_hours")],
    record_id: ClientId, purpose: Annotated[str, Query(max_length=24)],
    file_name: Annotated[str | None, Query(max_length=255)] = None,
) -> Response:
    """Upload a file a tablet holds (the raw file as the body), idempotent by its client-made id."""
    dev, station = device
    owner = (await registry(request.app.state)).table(table)
    if owner is None:
        raise InvalidInput.field("table", "This table is not synced.", "unknown_table")
    state = request.app.state
    answer = await files_contract.upload(
        service(state.upstreams, state.signer, owner.service), attachment_id,
        UploadQuery(table=table, record_id=record_id, purpose=purpose, file_name=file_name), request.stream(),
        request.headers, state.signer.access_token(_as_principal(dev, station), ttl_s=300), actor_of(request).address)
    return Response(answer.content, status_code=answer.status_code, media_type=answer.media_type)


@router.get("/{attachment_id}", response_class=Response,
            responses={200: {"description": "The file", "content": {t: {"schema": {"type": "string", "format": "binary"}}
                                                                    for t in MEDIA_TYPES}},
                       503: {"description": "The service that owns the table did not answer: try again"}})
async def download_to_tablet(
    attachment_id: ClientId, request: Request, device: DeviceDep,
    table: Annotated[Literal["case_attachments", "project_attachments", "volunteer_attachments"],
                     Query(description="The synced table the pull listed the file in")],
) -> Response:
    """A file the tablet's pull listed, fetched when the app needs it (streamed; audited as the device)."""
    dev, station = device
    owner = (await registry(request.app.state)).table(table)
    if owner is None:
        raise InvalidInput.field("table", "This table is not synced.", "unknown_table")
    state = request.app.state
    answer = await files_contract.download(service(state.upstreams, state.signer, owner.service), attachment_id,
                                           state.signer.access_token(_as_principal(dev, station), ttl_s=300),
                                           actor_of(request).address)
    if isinstance(answer, files_contract.Answered):
        return Response(answer.content, status_code=answer.status_code, media_type=answer.media_type)
    return ClosingStreamingResponse(answer.chunks(), headers=answer.headers, media_type=answer.media_type,
                                    background=BackgroundTask(answer.aclose))
