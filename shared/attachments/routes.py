"""The routes of one kind of record's files, under that record's own path:

    GET    <record>/attachments                          the record's files
    POST   <record>/attachments?purpose=&file_name=&id=   upload one (the raw file as the body)
    GET    <record>/attachments/{attachment_id}          one file's metadata
    GET    <record>/attachments/{attachment_id}/content  the file (audited)
    GET    <record>/attachments/{attachment_id}/thumbnail  an image's thumbnail (audited)
    DELETE <record>/attachments/{attachment_id}          remove it (If-Match)

Each route first loads the record through the owning service's own dependency (`Owner.read`,
`Owner.write`), the one its other routes use: a file is visible exactly when its record is, and
an id out of scope answers 404 like one that does not exist. The upload streams the body through
shared/uploads before any transaction opens, so no database connection waits on a slow tablet.
"""


import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.attachments.files import AttachmentFiles, attachment_files
from shared.attachments.schemas import AttachmentList, AttachmentRead
from shared.audit.reads import log_reads
from shared.db import read_session, transaction
from shared.errors import Forbidden
from shared.etag import answer_created, check_version, required_version, set_etag
from shared.models import new_id
from shared.principals import Principal
from shared.records import IdInUse, RecordNotFound, withhold
from shared.repository import get_any
from shared.schemas import ClientId
from shared.scope import live_in, live_row_in
from shared.storage import ObjectNotFound
from shared.streaming import ClosingStreamingResponse
from shared.uploads import Accepted, Kind, clean_name, download_headers

ReadSessionDep = Annotated[AsyncSession, Depends(read_session)]
FilesDep = Annotated[AttachmentFiles, Depends(attachment_files)]
MEDIA_TYPES = ("image/jpeg", "image/png", "image/heic", "application/pdf")
_UPLOAD_BODY = {"requestBody": {"required": True, "description": "The file itself, as the whole body (JPEG, PNG, "
                                "HEIC or PDF; the type is told by its content)",
                                "content": {t: {"schema": {"type": "string", "format": "binary"}}
                                            for t in MEDIA_TYPES}}}
_UPLOADED = {200: {"model": AttachmentRead, "description": "A retry with the same client id: the file it stored"},
             413: {"description": "The file is larger than UPLOAD_MAX_BYTES"},
             415: {"description": "The file is not a JPEG, PNG, HEIC or PDF (told by its content)"}}
_FILE = {200: {"content": {t: {"schema": {"type": "string", "format": "binary"}} for t in MEDIA_TYPES},
               "description": "The file"}}


@dataclass(frozen=True)
class Owner:
    """A kind of record that carries files."""

    table: str  # stored in attachment.owner_table: the owner's table ("beneficiary")
    name: str  # in operation names: list_<name>_attachments
    read: Callable  # dependency: the record for a reader, in scope (404 otherwise)
    write: Callable  # dependency: the record for someone who may add files to it (403/404 otherwise)
    purposes: tuple[str, ...]
    # Is the record about a child under 14 (async (session, record) -> bool)? A child's files are
    # for the roles that work with the person only (shared.auth.SENSITIVE_READERS).
    child: Callable[[AsyncSession, Any], Awaitable[bool]] | None = None
    tags: list[str] = field(default_factory=lambda: ["attachments"])


def to_read(row, principal: Principal, child: bool) -> AttachmentRead:
    read = AttachmentRead(id=row.id, owner_table=row.owner_table, owner_id=row.owner_id, purpose=row.purpose,
                          file_name=row.file_name, media_type=Kind(row.kind).media_type, size=row.size,
                          sha256=row.sha256, width=row.width, height=row.height,
                          thumbnail=row.thumbnail_key is not None, child=child, station_id=row.station_id,
                          version=row.version, created_at=row.created_at, created_by=row.created_by)
    return withhold(read, row.__table__, principal)


async def delete_files(files: AttachmentFiles, key: str, thumbnail_key: str | None) -> None:
    await files.files.delete(key)
    if thumbnail_key:
        await files.files.delete(thumbnail_key)


def attachment_router(prefix: str, owner: Owner, model) -> APIRouter:
    """The routes above for `owner`'s records under `prefix` (".../{owner_id}/attachments"), its files in `model`."""
    router = APIRouter(prefix=prefix, tags=owner.tags)
    ReadOwner = Annotated[Any, Depends(owner.read)]
    WriteOwner = Annotated[Any, Depends(owner.write)]
    Purpose = Literal[owner.purposes]  # type: ignore[valid-type]
    noun = owner.table.replace("_", " ")

    async def is_child(session: AsyncSession, record) -> bool:
        return owner.child is not None and await owner.child(session, record)

    async def found(session: AsyncSession, request: Request, record, attachment_id: str):
        row = await session.scalar(select(model).where(
            model.id == attachment_id, model.owner_table == owner.table, model.owner_id == record.id,
            live_in(model, request.state.principal)))
        if row is None:
            raise RecordNotFound("attachment")
        return row

    @router.get("", response_model=AttachmentList, name=f"list_{owner.name}_attachments",
                description=f"The files of this {noun}, oldest first.")
    async def list_attachments(record: ReadOwner, request: Request, session: ReadSessionDep) -> AttachmentList:
        principal = request.state.principal
        rows = (await session.scalars(select(model).where(
            model.owner_table == owner.table, model.owner_id == record.id,
            live_in(model, principal)).order_by(model.created_at, model.id))).all()
        child = await is_child(session, record)
        if child:  # the names of a child's files are read as the child's records are: logged
            await log_reads(request, model.__tablename__, [(r.id, r.station_path) for r in rows])
        return AttachmentList(items=[to_read(r, principal, child) for r in rows])

    @router.post("", response_model=AttachmentRead, status_code=status.HTTP_201_CREATED,
                 name=f"upload_{owner.name}_attachment", openapi_extra=_UPLOAD_BODY, responses=_UPLOADED,
                 description=f"Add a file to this {noun}: the file is the whole body. JPEG, PNG, HEIC and PDF "
                             "are taken (told by the content: 415 otherwise), at most UPLOAD_MAX_BYTES (413); "
                             "photos are stored re-encoded, without EXIF or GPS. With a client-made `id`, a "
                             "retry answers the stored file (200) without taking the body again.")
    async def upload_attachment(
        record: WriteOwner, request: Request, response: Response, files: FilesDep, session: ReadSessionDep,
        purpose: Purpose,
        file_name: Annotated[str | None, Query(max_length=255, description="The file's name, for downloads")]
        = None,
        attachment_id: Annotated[ClientId | None, Query(alias="id", description="Client-made id (tablets)")] = None,
    ) -> AttachmentRead:
        # The record is loaded: no connection waits while the body arrives (a tablet on a slow line).
        await session.close()
        read, created = await receive(request, files, model, owner, record, request.state.principal, purpose,
                                      file_name, attachment_id)
        answer_created(response, created, read.version, f"{request.url.path}/{read.id}")
        return read

    @router.get("/{attachment_id}", response_model=AttachmentRead, name=f"get_{owner.name}_attachment",
                description=f"One file of this {noun}: its metadata.")
    async def get_attachment(attachment_id: str, record: ReadOwner, request: Request, response: Response,
                             session: ReadSessionDep) -> AttachmentRead:
        row = await found(session, request, record, attachment_id)
        await log_reads(request, model.__tablename__, [(row.id, row.station_path)])
        set_etag(response, row.version)
        return to_read(row, request.state.principal, await is_child(session, record))

    async def send(request: Request, session: AsyncSession, files: AttachmentFiles, record, attachment_id: str,
                   thumbnail: bool) -> ClosingStreamingResponse:
        row = await found(session, request, record, attachment_id)
        principal: Principal = request.state.principal
        if await is_child(session, record) and not principal.may_read_sensitive:
            raise Forbidden("A child's files are shown only to the staff who work with the child.")
        if thumbnail and row.thumbnail_key is None:
            raise RecordNotFound("thumbnail")
        # Logged before the first byte goes out: a download whose audit row cannot be written fails.
        await log_reads(request, model.__tablename__, [(row.id, row.station_path)])
        try:
            if thumbnail:
                chunks = await files.files.open(row.thumbnail_key)
            else:
                chunks = await files.files.open(row.storage_key, digest=row.sha256)
        except ObjectNotFound:
            raise RecordNotFound("file") from None
        # The answer streams after the handler returns: no connection is held meanwhile.
        await session.close()
        kind = Kind.JPEG if thumbnail else Kind(row.kind)
        headers = download_headers(row.file_name if principal.may_read_sensitive else None, kind,
                                   inline=thumbnail)
        # No Cache-Control of its own: every process's answer carries no-store and Vary: Authorization.
        del headers["Cache-Control"]
        if not thumbnail:
            headers["Content-Length"] = str(row.size)
            headers["ETag"] = f'"{row.sha256}"'
        return ClosingStreamingResponse(chunks, headers=headers, media_type=kind.media_type)

    @router.get("/{attachment_id}/content", response_class=Response, responses=_FILE,
                name=f"download_{owner.name}_attachment",
                description=f"Download one file of this {noun} (every download is audited).")
    async def download_attachment(attachment_id: str, record: ReadOwner, request: Request, files: FilesDep,
                                  session: ReadSessionDep) -> ClosingStreamingResponse:
        return await send(request, session, files, record, attachment_id, thumbnail=False)

    @router.get("/{attachment_id}/thumbnail", response_class=Response, responses=_FILE,
                name=f"thumbnail_{owner.name}_attachment",
                description=f"The JPEG thumbnail of an image of this {noun} (audited; 404 for a PDF).")
    async def attachment_thumbnail(attachment_id: str, record: ReadOwner, request: Request, files: FilesDep,
                                   session: ReadSessionDep) -> ClosingStreamingResponse:
        return await send(request, session, files, record, attachment_id, thumbnail=True)

    @router.delete("/{attachment_id}", status_code=status.HTTP_204_NO_CONTENT,
                   name=f"delete_{owner.name}_attachment",
                   description=f"Remove a file of this {noun} (If-Match required): the record is kept as a "
                               "tombstone, the bytes are deleted.")
    async def delete_attachment(attachment_id: str, record: WriteOwner, request: Request, files: FilesDep
                                ) -> Response:
        version = required_version(request)
        principal: Principal = request.state.principal
        async with transaction(request, request.app.state.db.write_guard) as session:
            row = await found(session, request, record, attachment_id)
            check_version(version, row.version)
            row.deleted_at = datetime.now(UTC)
            row.version += 1
            row.updated_by = principal.user_id
            keys = (row.storage_key, row.thumbnail_key)
        await delete_files(files, *keys)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router


async def receive(request: Request, files: AttachmentFiles, model, owner: Owner, record, principal: Principal,
                  purpose: str, file_name: str | None, attachment_id: str | None) -> tuple[AttachmentRead, bool]:
    """Take the request's body as a file of `record` (loaded in the principal's scope); answers the
    stored file and whether this request stored it (False: a retry with the same client id)."""
    db = request.app.state.db
    async with db.read_sessions() as session:
        child = owner.child is not None and await owner.child(session, record)
        if attachment_id is not None:
            existing = await session.get(model, attachment_id)
            if existing is not None:  # a retry: answered without taking the body again
                return _same(existing, owner, record, purpose, principal, child), False
    accepted = await files.uploads.accept_request(request, field="file")
    try:
        async with transaction(request, db.write_guard) as session:
            if attachment_id is not None:
                existing = await get_any(session, model, attachment_id)
                if existing is not None:  # a retry that raced its original
                    await asyncio.shield(delete_files(files, accepted.key, accepted.thumbnail_key))
                    return _same(existing, owner, record, purpose, principal, child), False
            row = _row(model, attachment_id, record, owner, purpose, file_name, accepted, principal)
            session.add(row)
            await session.flush()
    except BaseException:
        await asyncio.shield(delete_files(files, accepted.key, accepted.thumbnail_key))
        raise
    return to_read(row, principal, child), True


def _same(existing, owner: Owner, record, purpose: str, principal: Principal, child: bool) -> AttachmentRead:
    """A retried upload's stored file, or 409 when the id holds another file (or one out of scope)."""
    if (live_row_in(existing, principal) and existing.owner_id == record.id
            and existing.owner_table == owner.table and existing.purpose == purpose):
        return to_read(existing, principal, child)
    raise IdInUse()


def _row(model, attachment_id: str | None, record, owner: Owner, purpose: str, file_name: str | None,
         accepted: Accepted, principal: Principal):
    return model(id=attachment_id or new_id(), station_id=record.station_id, station_path=record.station_path,
                 owner_table=owner.table, owner_id=record.id, purpose=purpose,
                 file_name=clean_name(file_name, accepted.kind), kind=accepted.kind.value,
                 received_kind=accepted.received.value, size=accepted.size, sha256=accepted.digest,
                 storage_key=accepted.key, thumbnail_key=accepted.thumbnail_key, width=accepted.width,
                 height=accepted.height, created_by=principal.user_id, updated_by=principal.user_id)
