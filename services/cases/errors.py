"""Domain errors of the cases service, rendered as problem+json by shared.errors."""

from shared import attempts
from shared.errors import Conflict, InvalidInput, NotFound, field_error


class BeneficiaryNotFound(NotFound):
    type = "beneficiary-not-found"
    default_detail = "No such beneficiary."


class CaseNotFound(NotFound):
    type = "case-not-found"
    default_detail = "No such case."


class DuplicateIdNumber(attempts.DuplicateIdNumber):
    """Each person is registered once per province."""

    noun = "beneficiary"


class BeneficiaryHasCases(Conflict):
    type = "beneficiary-has-cases"
    default_detail = "Delete or move this beneficiary's cases first."


class PopulationExists(Conflict):
    type = "population-exists"
    default_detail = "This population code exists already."
    default_errors = field_error("code", "exists already", "duplicate")


def unknown_populations(field: str, codes: list[str]) -> InvalidInput:
    # Codes are operator-defined labels, not personal data: safe to echo.
    return InvalidInput.field(field, f"Unknown population code(s): {', '.join(sorted(set(codes)))}.",
                              "unknown_population")


class StepAwaitingApproval(Conflict):
    """A case moves no further while a step of it waits for a supervisor (service/approvals.py)."""

    type = "step-awaiting-approval"

    def __init__(self, step: str) -> None:
        super().__init__(f"The case's '{step}' step is awaiting a supervisor's approval.", step=step)


class ApprovalNotFound(NotFound):
    type = "approval-not-found"
    default_detail = "No such approval."


class ApprovalDecided(Conflict):
    type = "approval-decided"
    default_detail = "This step has been decided already."


class AssignmentNotFound(NotFound):
    type = "assignment-not-found"
    default_detail = "No such assignment."


class TransferNotFound(NotFound):
    type = "transfer-not-found"
    default_detail = "No such transfer."


class TransferDecided(Conflict):
    type = "transfer-decided"
    default_detail = "This transfer has been decided already."


class PersonMovedSince(Conflict):
    type = "person-moved-since"
    default_detail = "The person is no longer at the station this transfer moves them from."


class TransferPending(Conflict):
    type = "transfer-pending"
    default_detail = "A transfer of this person is waiting for the receiving station already."


class ReceivingStationGone(Conflict):
    type = "receiving-station-gone"
    default_detail = "The receiving station has been deleted since the request; decline it and ask again."
