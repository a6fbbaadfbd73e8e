"""PUT /v1/sync/attachments/{attachment_id}: a station tablet's photo or scan, taken offline.

The tablet names the record the file belongs to by its synced table and id (`table=group_sessions`,
`record_id=...`) and gives the file its own id, which makes the upload idempotent: the same PUT
again answers the stored file (200) without the service taking the body again. The body streams
through to the service that owns the table (shared/attachments/tablet.py), as the device; the
file's metadata reaches every tablet of the station with its next pull (`case_attachments`...).
"""

from typing import Annotated, Literal

import httpx
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from gateway.deps import ReadSessionDep
from gateway.sync.api import DeviceDep, _as_principal, _headers
from gateway.sync.registry import SyncUnavailable, registry
from shared.attachments.routes import MEDIA_TYPES
from shared.attachments.schemas import AttachmentRead
from shared.audit.listener import actor_of
from shared.errors import PROBLEM, InvalidInput
from shared.schemas import ClientId
from shared.sync import DEVICE_TOKEN_HEADER

# What a stored file's download carries besides its type (shared.uploads.download_headers); caching is
# the gateway's own (no-store, Vary: Authorization, as on every answer).
FILE_HEADERS = frozenset({"content-disposition", "content-length", "x-content-type-options",
                          "content-security-policy"})

router = APIRouter(prefix="/v1/sync/attachments", tags=["sync"])
_BODY = {"requestBody": {"required": True, "description": "The file itself, as the whole body",
                         "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in MEDIA_TYPES}}}


@router.put("/{attachment_id}", status_code=201, response_model=AttachmentRead, openapi_extra=_BODY,
            responses={200: {"model": AttachmentRead, "description": "The same id again: the file it stored"},
                       413: {"description": "The file is larger than UPLOAD_MAX_BYTES"},
                       415: {"description": "The file is not a JPEG, PNG, HEIC or PDF (told by its content)"},
                       503: {"description": "The service that owns the table did not answer: upload again"}})
async def upload_from_tablet(
    attachment_id: ClientId, request: Request, device: DeviceDep, session: ReadSessionDep,
    table: Annotated[str, Query(max_length=40, description="The synced table of the record: beneficiaries, cases, "
                                                           "group_sessions, activities, volunteer_hours")],
    record_id: ClientId, purpose: Annotated[str, Query(max_length=24)],
    file_name: Annotated[str | None, Query(max_length=255)] = None,
) -> Response:
    """Upload a file a tablet holds (the raw file as the body), idempotent by its client-made id."""
    dev, station = device
    await session.close()  # the device is checked: no connection waits while the file arrives
    owner = (await registry(request.app.state)).table(table)
    if owner is None:
        raise InvalidInput.field("table", "This table is not synced.", "unknown_table")
    headers = {**_headers(request), "X-Real-IP": actor_of(request).address or "unknown",
               DEVICE_TOKEN_HEADER: request.app.state.signer.access_token(_as_principal(dev, station), ttl_s=300)}
    for name in ("content-type", "accept-language", "content-length"):
        if name in request.headers:
            headers[name] = request.headers[name]
    params = {"table": table, "record_id": record_id, "purpose": purpose}
    if file_name is not None:
        params["file_name"] = file_name
    client = request.app.state.upstreams.client(owner.service)
    try:
        answer = await client.put(f"/internal/sync/attachments/{attachment_id}", params=params, headers=headers,
                                  content=request.stream())
    except (httpx.HTTPError, OSError) as exc:
        raise SyncUnavailable(f"The {owner.service} service did not take the file: upload it again.",
                              service=owner.service) from exc
    if answer.status_code >= 500:
        raise SyncUnavailable(f"The {owner.service} service did not take the file: upload it again.",
                              service=owner.service)
    media = answer.headers.get("content-type", PROBLEM)
    return Response(answer.content, status_code=answer.status_code, media_type=media)


@router.get("/{attachment_id}", response_class=Response,
            responses={200: {"description": "The file", "content": {t: {"schema": {"type": "string", "format": "binary"}}
                                                                    for t in MEDIA_TYPES}},
                       503: {"description": "The service that owns the table did not answer: try again"}})
async def download_to_tablet(
    attachment_id: ClientId, request: Request, device: DeviceDep, session: ReadSessionDep,
    table: Annotated[Literal["case_attachments", "project_attachments", "volunteer_attachments"],
                     Query(description="The synced table the pull listed the file in")],
) -> Response:
    """A file the tablet's pull listed, fetched when the app needs it (streamed; audited as the device)."""
    dev, station = device
    await session.close()  # the answer streams after the handler returns: no connection held meanwhile
    owner = (await registry(request.app.state)).table(table)
    if owner is None:
        raise InvalidInput.field("table", "This table is not synced.", "unknown_table")
    headers = {**_headers(request), "X-Real-IP": actor_of(request).address or "unknown",
               DEVICE_TOKEN_HEADER: request.app.state.signer.access_token(_as_principal(dev, station), ttl_s=300)}
    client = request.app.state.upstreams.client(owner.service)
    try:
        answer = await client.send(client.build_request("GET", f"/internal/sync/attachments/{attachment_id}",
                                                        headers=headers), stream=True)
    except (httpx.HTTPError, OSError) as exc:
        raise SyncUnavailable(f"The {owner.service} service did not answer: try again.",
                              service=owner.service) from exc
    if answer.status_code != 200:
        await answer.aread()
        await answer.aclose()
        if answer.status_code >= 500:
            raise SyncUnavailable(f"The {owner.service} service did not answer: try again.", service=owner.service)
        return Response(answer.content, status_code=answer.status_code,
                        media_type=answer.headers.get("content-type", PROBLEM))
    kept = {k: v for k, v in answer.headers.items() if k in FILE_HEADERS}
    return StreamingResponse(answer.aiter_raw(), headers=kept, media_type=answer.headers["content-type"],
                             background=BackgroundTask(answer.aclose))
