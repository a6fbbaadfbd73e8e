"""HTTP routes of the cases service; `router` is what create_app() mounts."""

from fastapi import APIRouter

from services.cases.api import (beneficiaries, caseload, cases, internal, lookup, populations, project_stats, records,
                                stats)

router = APIRouter()
# stats first: /v1/cases/stats must not be taken for a case id.
for module in (stats, populations, lookup, beneficiaries, caseload, cases, records, internal, project_stats):
    router.include_router(module.router)
