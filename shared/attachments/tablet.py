"""Station tablets' files: photos and scans taken offline, uploaded when a network is back, and the
attachments' metadata synced as a read-only table.

- Upload: the tablet PUTs the file to the gateway (`PUT /v1/sync/attachments/{id}` with its device
  credential), which streams it to the owning service (shared.contracts.tablet_attachments:
  `PUT /internal/sync/attachments/{id}`, the gateway's service
  token and the device's own token in X-Device-Token, as a push). The id is the tablet's own: the
  same PUT again answers the stored file (200) without taking the body, so a tablet retries freely.
  The record it belongs to is named by its synced table and id, and must be in the device's subtree.
- Metadata: `attachment_sync_table` serves each service's attachments in the tablet's subtree
  (`case_attachments`...): read-only, the upload creates them. A pushed row of one the upload has
  made is left as it is; any other create, and every delete, is refused naming the record.
- Bytes: fetched on demand (`GET /v1/sync/attachments/{id}?table=case_attachments`, relayed to
  `GET /internal/sync/attachments/{id}`), scoped to the device's subtree and audited as it.
"""

from typing import Any

from shared.errors import InvalidInput
from shared.sync import TIMESTAMPS, SyncColumn, SyncContext, SyncTable


# The sync schema version that added the attachment tables.
SINCE = 4


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
