"""Domain errors of the volunteers service, rendered as problem+json by shared.errors."""

from shared import attempts
from shared.errors import Conflict, InvalidInput, NotFound, field_error


class VolunteerNotFound(NotFound):
    type = "volunteer-not-found"
    default_detail = "No such volunteer."


class DuplicateIdNumber(attempts.DuplicateIdNumber):
    """Volunteers are unique by ID number on the whole platform."""

    noun = "volunteer"


class UserAlreadyLinked(Conflict):
    type = "user-already-linked"
    default_detail = "This user is already linked to another volunteer."
    default_errors = field_error("user_id", "linked to another volunteer", "duplicate")


class VolunteerHasRecords(Conflict):
    type = "volunteer-has-records"
    default_detail = "This volunteer has service hours or certificates; mark them 'left' instead."


def unknown(field: str, what: str) -> InvalidInput:
    return InvalidInput.field(field, f"No such {what} in your scope.", f"unknown_{what.replace(' ', '_')}")
