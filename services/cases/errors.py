"""Domain errors of the cases service, rendered as problem+json by shared.errors."""

from shared.attempts import REGISTERED_ELSEWHERE
from shared.errors import Conflict, InvalidInput, NotFound


class BeneficiaryNotFound(NotFound):
    type = "beneficiary-not-found"

    def __init__(self) -> None:
        super().__init__("No such beneficiary.")


class CaseNotFound(NotFound):
    type = "case-not-found"

    def __init__(self) -> None:
        super().__init__("No such case.")


class DuplicateIdNumber(Conflict):
    """Each person is registered once per province. The body names the record to use instead when
    the caller can see it; otherwise it names nothing (neither the record nor its station)."""

    type = "duplicate-id-number"

    def __init__(self, existing_id: str | None) -> None:
        if existing_id is None:
            super().__init__(REGISTERED_ELSEWHERE, errors=[{"field": "id_number", "message": REGISTERED_ELSEWHERE,
                                                 "code": "registered_elsewhere"}])
            return
        super().__init__("A beneficiary with this ID number is already registered.", existing_id=existing_id,
                         errors=[{"field": "id_number", "message": "already registered", "code": "duplicate"}])


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
