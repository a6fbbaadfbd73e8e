"""Field types of the volunteers models; the generic ones are in shared.schemas."""

from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
# The gateway's user ids are integers; tokens carry them as strings.
UserId = Annotated[str, BeforeValidator(lambda v: str(v) if type(v) is int else v),
                   StringConstraints(min_length=1, max_length=64)]
# Hours go out as JSON numbers (12.5), whatever the scale the database kept them at.
HoursOut = Annotated[Decimal, PlainSerializer(float, return_type=float)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
