"""Domain errors of the volunteers service, rendered as problem+json by shared.errors."""

from shared import attempts
from shared.errors import Conflict, InvalidInput, NotFound


class VolunteerNotFound(NotFound):
    type = "volunteer-not-found"

    def __init__(self) -> None:
        super().__init__("No such volunteer.")


class DuplicateIdNumber(attempts.DuplicateIdNumber):
    """Volunteers are unique by ID number on the whole platform."""

    noun = "volunteer"


class UserAlreadyLinked(Conflict):
    type = "user-already-linked"

    def __init__(self) -> None:
        super().__init__("This user is already linked to another volunteer.",
                         errors=[{"field": "user_id", "message": "linked to another volunteer", "code": "duplicate"}])


class VolunteerHasRecords(Conflict):
    type = "volunteer-has-records"

    def __init__(self) -> None:
        super().__init__("This volunteer has service hours or certificates; mark them 'left' instead.")


def unknown(field: str, what: str) -> InvalidInput:
    return InvalidInput.field(field, f"No such {what} in your scope.", f"unknown_{what.replace(' ', '_')}")
