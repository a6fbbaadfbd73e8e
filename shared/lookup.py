"""services/cases/api/cases.py takes AskerDep from here; the lookup's home is shared.contracts.lookup."""

from shared.contracts.lookup.client import AskerDep

__all__ = ["AskerDep"]
