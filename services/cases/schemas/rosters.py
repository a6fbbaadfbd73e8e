"""Civil-affairs rosters (名册): imports for a station's subtree, and each person's membership."""

from datetime import date
from typing import Literal

from pydantic import Field

from shared.schemas import Output, RecordRead
from shared.spreadsheet import RowProblem

# What an import does with one row: register a new beneficiary, put a registered one on the roster,
# update a member (village, rejoining after leaving), or nothing.
RowAction = Literal["register", "add", "update", "unchanged"]


class RowChange(Output):
    row: int
    action: RowAction
    population: str
    beneficiary_id: str | None = Field(default=None, description="null for a person a dry run would register")


class RosterImportReport(Output):
    id: str | None = Field(default=None, description="The import's record (null in a dry run)")
    dry_run: bool
    station_id: int
    listed_on: date
    populations: list[str]
    rows: int
    valid_rows: int
    registered: int = Field(description="People registered as beneficiaries (source roster)")
    added: int = Field(description="Registered people put on the roster")
    updated: int
    unchanged: int
    left: int = Field(description="Members of these populations in the subtree no longer listed: marked left")
    changes: list[RowChange]
    leaving: list[str] = Field(description="Beneficiary ids of the members marked left")
    errors: list[RowProblem]


class RosterImportRead(RecordRead):
    listed_on: date
    file_name: str | None = None
    populations: list[str]
    rows: int
    registered: int
    added: int
    updated: int
    left: int


class RosterMemberRead(RecordRead):
    beneficiary_id: str
    population: str
    village: str | None = None
    joined_on: date
    left_on: date | None = None


class RosterMembership(Output):
    items: list[RosterMemberRead]
