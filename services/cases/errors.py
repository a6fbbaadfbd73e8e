"""Domain errors of the cases service, rendered as problem+json by shared.errors."""

from shared import attempts
from shared.errors import Conflict, InvalidInput, NotFound


class BeneficiaryNotFound(NotFound):
    type = "beneficiary-not-found"

    def __init__(self) -> None:
        super().__init__("No such beneficiary.")


class CaseNotFound(NotFound):
    type = "case-not-found"

    def __init__(self) -> None:
        super().__init__("No such case.")


class DuplicateIdNumber(attempts.DuplicateIdNumber):
    """Each person is registered once per province."""

    noun = "beneficiary"


class BeneficiaryHasCases(Conflict):
    type = "beneficiary-has-cases"

    def __init__(self) -> None:
        super().__init__("Delete or move this beneficiary's cases first.")


class PopulationExists(Conflict):
    type = "population-exists"

    def __init__(self) -> None:
        super().__init__("This population code exists already.",
                         errors=[{"field": "code", "message": "exists already", "code": "duplicate"}])


def unknown_populations(field: str, codes: list[str]) -> InvalidInput:
    # Codes are operator-defined labels, not personal data: safe to echo.
    return InvalidInput.field(field, f"Unknown population code(s): {', '.join(sorted(set(codes)))}.",
                              "unknown_population")
