"""Domain errors of the projects service, rendered as problem+json by shared.errors."""

from shared.errors import Conflict, InvalidInput, NotFound


class RecordNotFound(NotFound):
    type = "record-not-found"

    def __init__(self, kind: str) -> None:
        super().__init__(f"No such {kind}.")


class IdInUse(Conflict):
    type = "id-in-use"

    def __init__(self, detail: str = "This id is already used by a different record.") -> None:
        super().__init__(detail, errors=[{"field": "id", "message": detail, "code": "id_in_use"}])


class TransitionNotAllowed(Conflict):
    type = "transition-not-allowed"

    def __init__(self, action: str, status: str, allowed: list[str]) -> None:
        super().__init__(f"'{action}' is not allowed while the project is '{status}'.", current_status=status,
                         allowed_actions=allowed)


class ProjectHasRecords(Conflict):
    type = "project-has-records"

    def __init__(self) -> None:
        super().__init__("Delete this project's groups and activities first.")


class UnknownAttendees(InvalidInput):
    """Ids the casework service does not know as beneficiaries in the caller's scope."""

    type = "unknown-beneficiary"

    def __init__(self, fields: list[str]) -> None:
        super().__init__("No such beneficiary in your scope: " + ", ".join(fields) + ".", errors=[
            {"field": f, "message": "No such beneficiary in your scope.", "code": "unknown_beneficiary"}
            for f in fields])


def outside_period(field: str) -> InvalidInput:
    return InvalidInput.field(field, "This date is outside the project period.", "outside_project_period")
