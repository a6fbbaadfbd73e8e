"""Transfers of a person to another station: the request, the decision, and what moved."""

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from shared.schemas import CreateInput, Input, Output, RowId, Text

TransferStatus = Literal["pending", "accepted", "declined", "withdrawn"]
PENDING, ACCEPTED, DECLINED, WITHDRAWN = "pending", "accepted", "declined", "withdrawn"
Direction = Literal["incoming", "outgoing"]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class TransferCreate(CreateInput):
    to_station_id: RowId = Field(description="The station the person moves to (of the same province)")
    reason: Reason = Field(description="Why the person moves, e.g. moved house to another township; kept with "
                                       "the transfer")
    note: Text | None = Field(default=None, description="More for the receiving station (sealed at rest)")


class DecisionInput(Input):
    note: Reason | None = Field(default=None, description="Why it was accepted, declined or withdrawn")


class TransferRead(Output):
    id: str
    beneficiary_id: str
    beneficiary_name: str
    from_station_id: int
    to_station_id: int
    status: TransferStatus
    direct: bool = Field(description="Done at once, within the requester's subtree")
    reason: str
    note: str | None = None
    transferred_on: date | None = Field(description="The day the person moved (figures move that day)")
    case_ids: list[str] = Field(description="The person's unclosed cases, which moved with them")
    requested_by: str | None
    requested_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None
    version: int
