from services.projects.models import Station
from services.projects.service import stats as service
from shared.stats_api import user_stats_router

router = user_stats_router(service.answer, Station, "/v1/projects/stats", "project_work_stats",
                           "Group work and community activity counts of your subtree (no personal data).")
