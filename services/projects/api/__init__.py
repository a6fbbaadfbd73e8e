"""HTTP routes of the projects service; `router` is what create_app() mounts."""

from fastapi import APIRouter

from services.projects.api import activities, attachments, groups, internal, projects, stats

router = APIRouter()
# stats first: /v1/projects/stats must not be taken for a project id.
for module in (stats, projects, groups, activities, internal, attachments):
    router.include_router(module.router)
