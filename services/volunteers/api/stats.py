from services.volunteers.models import Station
from services.volunteers.service import stats as service
from shared.principals import Role
from shared.stats_api import user_stats_router

router = user_stats_router(service.answer, Station, "/v1/volunteers/stats", "volunteer_stats",
                           "Volunteer counts of your subtree (no personal data): registered, active, hours, person-times.",
                           denied=frozenset({Role.volunteer}),
                           denied_detail="A volunteer sees their own record, hours and certificates only.")
