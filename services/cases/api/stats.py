from services.cases.models import Station
from services.cases.service import stats as service
from shared.stats_api import user_stats_router

router = user_stats_router(service.answer, Station, "/v1/cases/stats", "casework_stats",
                           "Casework counts of your subtree (no personal data): person-times, cases, registrations.")
