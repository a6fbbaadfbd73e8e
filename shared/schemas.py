"""Building blocks of every service's input and output models: base models and common field types."""

from datetime import date, datetime
from typing import Annotated, ClassVar

from annotated_types import Interval
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from shared import clock
from shared.errors import InvalidInput


# The calendar the records keep: any date a record, a project or a figure may name lies in it.
EARLIEST, LATEST = date(1900, 1, 1), date(2200, 1, 1)


def _not_future(value: date | None) -> date | None:
    if value is not None and value > clock.today():
        raise ValueError("cannot be in the future")
    if value is not None and value < EARLIEST:
        raise ValueError("must be after 1900-01-01")
    return value


def _sane(value: date | None) -> date | None:
    if value is not None and not EARLIEST <= value <= LATEST:
        raise ValueError("is not a plausible date")
    return value


# A date that has happened (birth, service, assessment...), in the platform's calendar.
PastDate = Annotated[date, AfterValidator(_not_future)]
AnyDate = Annotated[date, AfterValidator(_sane)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]
# Client-made ids (tablets create offline): UUIDs in practice, any URL-safe token accepted.
ClientId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
UserId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
# The ranges of PostgreSQL's integer and bigint: a number bound to one that does not fit is refused
# as input naming its field, rather than failing in the database driver (a 500).
INT_MAX = 2**31 - 1
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
# An integer row id (stations, users, devices) is a PostgreSQL bigint.
RowId = Annotated[int, Interval(ge=BIGINT_MIN, le=BIGINT_MAX)]
# Population codes are operator-defined labels (cases owns the list; projects targets them).
PopulationCode = Annotated[str, StringConstraints(min_length=1, max_length=40)]


NOT_UNICODE = "must be Unicode text (a lone surrogate such as \\ud800 is not)"


def lone_surrogate(text: str) -> bool:
    """Whether `text` holds a lone surrogate (U+D800-U+DFFF), which JSON's "\\ud800" escape can
    spell but UTF-8, hence PostgreSQL and every JSON encoder on the way, cannot. Request bodies never
    hold one (their JSON is parsed by pydantic, which refuses it); JSON parsed by hand can."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, (list, tuple, set)):
        return any(has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    return False


class NoNul(BaseModel):
    """PostgreSQL text cannot hold the NUL character: refuse it here, naming the field, rather than
    let the database driver fail on it (a 500)."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        if has_nul(value):
            raise ValueError("must not contain the NUL character (U+0000)")
        return value


class Input(NoNul):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CreateInput(Input):
    id: ClientId | None = Field(default=None, description="Client-made id; a retry with the same body answers 200")


class UpdateInput(Input):
    """PATCH bodies: only the fields sent change; `null` clears an optional field."""

    required_fields: ClassVar[frozenset[str]] = frozenset()

    def changes(self) -> dict:
        for name in sorted(self.model_fields_set & self.required_fields):
            if getattr(self, name) is None:
                raise InvalidInput.field(name, "This field cannot be cleared.", "not_null")
        return self.model_dump(exclude_unset=True)


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class RecordRead(Output):
    id: str
    station_id: int
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: str | None = None
    updated_by: str | None = None
