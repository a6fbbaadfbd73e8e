"""Domain errors of the projects service, rendered as problem+json by shared.errors."""

from shared import records
from shared.errors import Conflict, InvalidInput


class TransitionNotAllowed(records.TransitionNotAllowed):
    noun = "project"


class ProjectHasRecords(Conflict):
    type = "project-has-records"
    default_detail = "Delete this project's groups and activities first."


class UnknownAttendees(InvalidInput):
    """Ids the casework service does not know as beneficiaries in the caller's scope."""

    type = "unknown-beneficiary"

    def __init__(self, fields: list[str]) -> None:
        super().__init__("No such beneficiary in your scope: " + ", ".join(fields) + ".", errors=[
            {"field": f, "message": "No such beneficiary in your scope.", "code": "unknown_beneficiary"}
            for f in fields])


def outside_period(field: str) -> InvalidInput:
    return InvalidInput.field(field, "This date is outside the project period.", "outside_project_period")
