"""Building blocks of every service's input and output models: base models and common field types."""

import re
from datetime import date, datetime
from typing import Annotated, ClassVar

from annotated_types import Interval
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

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


# Line ends are stored as LF: Windows clients send CRLF, old Mac ones a bare CR.
_LINE_END = re.compile(r"\r\n?")
# Characters that hide what a text says: C0 controls but tab and newline (a terminal's BEL and ESC,
# a forged line in a log or a CSV), DEL and the C1 controls, and the bidirectional embeddings,
# overrides and isolates that make text display in another order than it is stored (CVE-2021-42574).
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean_text(value: object) -> object:
    """`value` (a string, or strings in lists and dicts) with line ends as LF; ValueError naming the
    first hidden character (never the text around it)."""
    if isinstance(value, str):
        if "\r" in value:
            value = _LINE_END.sub("\n", value)
        found = _HIDDEN.search(value)
        if found:
            what = "the NUL character" if found.group() == "\x00" else "a control character" \
                if ord(found.group()) < 0xa0 else "a bidirectional override"
            raise ValueError(f"must not contain {what} (U+{ord(found.group()):04X}); only tab and newline are "
                             "allowed among control characters")
        return value
    if isinstance(value, list):
        return [clean_text(v) for v in value]
    if isinstance(value, tuple):
        return tuple(clean_text(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return type(value)(clean_text(v) for v in value)
    if isinstance(value, dict):
        return {clean_text(k): clean_text(v) for k, v in value.items()}
    return value


class CleanText(BaseModel):
    """Every text field of every input: hidden characters refused naming the field (PostgreSQL text
    cannot hold NUL at all; the others would reach terminals, logs, spreadsheets and screens), line
    ends normalised."""

    @field_validator("*", mode="after")
    @classmethod
    def _clean(cls, value: object) -> object:
        return clean_text(value)


class Input(CleanText):
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


class OrderedPeriod(BaseModel):
    """A period given as `from` and `to` (fields from_on and to_on, both days counted): `to` may not
    come before `from`."""

    @model_validator(mode="after")
    def _ordered(self):
        if self.to_on < self.from_on:
            raise ValueError("'to' is before 'from'")
        return self


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
