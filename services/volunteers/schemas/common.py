"""Building blocks of the input and output models."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, StringConstraints

from services.volunteers import clock
from shared.errors import InvalidInput


def _not_future(value: date | None) -> date | None:
    if value is not None and value > clock.today():
        raise ValueError("cannot be in the future")
    if value is not None and value < date(1900, 1, 1):
        raise ValueError("must be after 1900-01-01")
    return value


# A date that has happened (birth, service, training...), in the platform's calendar.
PastDate = Annotated[date, AfterValidator(_not_future)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]
# Client-made ids (tablets create offline): UUIDs in practice, any URL-safe token accepted.
ClientId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
# The gateway's user ids are integers; tokens carry them as strings.
UserId = Annotated[str, BeforeValidator(lambda v: str(v) if type(v) is int else v),
                   StringConstraints(min_length=1, max_length=64)]
# Hours go out as JSON numbers (12.5), whatever the scale the database kept them at.
HoursOut = Annotated[Decimal, PlainSerializer(float, return_type=float)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


class Input(BaseModel):
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
