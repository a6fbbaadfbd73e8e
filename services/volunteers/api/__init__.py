"""HTTP routes of the volunteers service; `router` is what create_app() mounts."""

from fastapi import APIRouter

from services.volunteers.api import attachments, certificates, entries, hours, imports, internal, review, stats, teams, volunteers

router = APIRouter()
# stats and import first: /v1/volunteers/stats must not be taken for a volunteer id.
for module in (stats, imports, volunteers, entries, teams, hours, certificates, review, internal, attachments):
    router.include_router(module.router)
