"""Domain errors of the volunteers service, rendered as problem+json by shared.errors."""

from shared.attempts import REGISTERED_ELSEWHERE
from shared.errors import Conflict, InvalidInput, NotFound


class VolunteerNotFound(NotFound):
    type = "volunteer-not-found"

    def __init__(self) -> None:
        super().__init__("No such volunteer.")


class DuplicateIdNumber(Conflict):
    """Volunteers are unique by ID number on the whole platform. The body names the record to use
    when the caller can see it; otherwise it names nothing (neither the record nor its station)."""

    type = "duplicate-id-number"

    def __init__(self, existing_id: str | None) -> None:
        if existing_id is None:
            super().__init__(REGISTERED_ELSEWHERE, errors=[{"field": "id_number", "message": REGISTERED_ELSEWHERE,
                                                 "code": "registered_elsewhere"}])
            return
        super().__init__("A volunteer with this ID number is already registered.", existing_id=existing_id,
                         errors=[{"field": "id_number", "message": "already registered", "code": "duplicate"}])


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
