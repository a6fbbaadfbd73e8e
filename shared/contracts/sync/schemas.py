"""The sync contract's questions and answers: a pull of a station's subtree, a push of one
tablet's changes to one service's tables, and the tables a service syncs."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_validator

from shared.errors import InvalidInput
from shared.schemas import clean_text

# The pushing device's own short-lived access token, which the gateway sends beside its service
# token: a push's checks of other services' records (shared.contracts.lookup) run as the device.
DEVICE_TOKEN_HEADER = "X-Device-Token"
# The tablet's address as the gateway saw it, for the services' audit of what the device did.
ADDRESS_HEADER = "X-Real-IP"


class SyncedTable(BaseModel):
    """One table a service syncs, as GET /internal/sync/schema describes it."""

    name: str
    columns: list[dict] = Field(description="WatermelonDB's column descriptions (name, type, isOptional...)")
    since: int = Field(description="The sync schema version that added the table")
    columns_since: dict[str, int] = Field(description="Column -> the schema version that added it")


class SyncSchema(BaseModel):
    tables: list[SyncedTable]
    # Can the service hold its part of a push as a prepared transaction (shared.prepared)? False when
    # its database allows none: the gateway then dry-runs a push that involves it.
    two_phase: bool = False


class PullQuery(BaseModel):
    station_path: str
    since: str | None = Field(default=None, description="This service's cursor from the last pull (xid8)")
    tables: list[str] | None = None
    # Tables to send whole whatever `since` says (a tablet migrating to a schema that added them).
    full_tables: list[str] = Field(default_factory=list)


class TableChanges(BaseModel):
    created: list[dict] = Field(default_factory=list)
    updated: list[dict] = Field(default_factory=list)
    deleted: list[str] = Field(default_factory=list)


def _cleaned(value: Any, field: str) -> Any:
    try:
        return clean_text(value)
    except ValueError as exc:
        raise InvalidInput.field(field, str(exc), "hidden_character") from None


def _clean_changes(changes: dict[str, TableChanges]) -> None:
    """The text rule of every input (shared.schemas.clean_text) over the pushed rows, which reach the
    adapters and SQL as they come, naming the record and column; line ends normalised in place, so a
    retried push compares equal to what it wrote."""
    for table, part in changes.items():
        _cleaned(table, "changes")
        for kind in ("created", "updated"):
            rows = getattr(part, kind)
            for i, row in enumerate(rows):
                rid = _cleaned(row.get("id"), f"changes.{table}.{kind}[{i}].id")
                where = rid if isinstance(rid, str) and rid else f"{kind}[{i}]"
                rows[i] = {_cleaned(k, f"changes.{table}.{where}"): _cleaned(v, f"changes.{table}.{where}.{k}")
                           for k, v in row.items()}
        part.deleted = _cleaned(part.deleted, f"changes.{table}.deleted")


class PushBody(BaseModel):
    station_id: int = Field(description="The device's station")
    station_path: str = Field(description="The device's subtree: every record pushed must lie in it")
    device_id: str
    since: str | None = Field(default=None, description="This service's cursor of the tablet's last pull")
    check_only: bool = False
    prepare: str | None = Field(
        default=None, pattern=r"^haolin-push-[a-z]+-[0-9a-f]{32}$",
        description="Write the part and hold it as a prepared transaction of this name (shared.prepared), "
                    "answering what it provides; the gateway then commits or rolls it back")
    changes: dict[str, TableChanges]
    provisional: dict[str, list[dict]] = Field(
        default_factory=dict, description="Records of this push another service accepted in its dry run or holds "
                                          "prepared, by table, as that table `provides` them: not committed yet, "
                                          "but they will be first")

    pushed: dict[str, list[str]] = Field(
        default_factory=dict, description="Ids of the records this push creates or updates in other services' "
                                          "tables, by table: no part of the push is committed before every "
                                          "service has accepted its own, so a reference to one of them holds")

    @model_validator(mode="after")
    def _clean(self) -> "PushBody":
        _clean_changes(self.changes)
        return self


class PreparedOutcome(BaseModel):
    """How a push's part held prepared ends (shared.prepared)."""

    name: str = Field(pattern=r"^haolin-push-[a-z]+-[0-9a-f]{32}$")
    commit: bool = Field(description="true once every later service has written its part; false when one refused")


class PushProvides(BaseModel):
    """A dry run's or a prepared part's answer: the records the push creates here, by table, as each
    `provides` them."""

    provides: dict[str, list[dict]] = Field(default_factory=dict)
