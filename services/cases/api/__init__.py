"""HTTP routes of the cases service: create_app() mounts each of `routers`; `router` holds them all."""

from fastapi import APIRouter

from services.cases.api import (approvals, attachments, beneficiaries, caseload, cases, internal, lookup, populations,
                                project_stats, records, review, rosters, stats, supervision, transfers, visit_rules,
                                visits)

# stats first: /v1/cases/stats must not be taken for a case id.
routers = tuple(module.router for module in (stats, populations, lookup, beneficiaries, visits, transfers, visit_rules,
                                             rosters, caseload, cases, records, review, internal, project_stats,
                                             attachments, approvals, supervision))
router = APIRouter()
for _router in routers:
    router.include_router(_router)
