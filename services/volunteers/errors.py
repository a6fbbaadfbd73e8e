"""Domain errors of the volunteers service, rendered as problem+json by shared.errors."""

from shared.errors import Conflict, InvalidInput, NotFound


class VolunteerNotFound(NotFound):
    type = "volunteer-not-found"

    def __init__(self) -> None:
        super().__init__("No such volunteer.")


class RecordNotFound(NotFound):
    type = "record-not-found"

    def __init__(self, kind: str) -> None:
        super().__init__(f"No such {kind}.")


class DuplicateIdNumber(Conflict):
    """Volunteers are unique by ID number on the whole platform; the body names the record to use."""

    type = "duplicate-id-number"

    def __init__(self, existing_id: str) -> None:
        super().__init__("A volunteer with this ID number is already registered.", existing_id=existing_id,
                         errors=[{"field": "id_number", "message": "already registered", "code": "duplicate"}])


class UserAlreadyLinked(Conflict):
    type = "user-already-linked"

    def __init__(self) -> None:
        super().__init__("This user is already linked to another volunteer.",
                         errors=[{"field": "user_id", "message": "linked to another volunteer", "code": "duplicate"}])


class IdInUse(Conflict):
    type = "id-in-use"

    def __init__(self, detail: str = "This id is already used by a different record.") -> None:
        super().__init__(detail, errors=[{"field": "id", "message": detail, "code": "id_in_use"}])


class TransitionNotAllowed(Conflict):
    type = "transition-not-allowed"

    def __init__(self, action: str, status: str, allowed: list[str]) -> None:
        super().__init__(f"'{action}' is not allowed while the record is '{status}'.", current_status=status,
                         allowed_actions=allowed)


class VolunteerHasRecords(Conflict):
    type = "volunteer-has-records"

    def __init__(self) -> None:
        super().__init__("This volunteer has service hours or certificates; mark them 'left' instead.")


def unknown(field: str, what: str) -> InvalidInput:
    return InvalidInput.field(field, f"No such {what} in your scope.", f"unknown_{what.replace(' ', '_')}")
