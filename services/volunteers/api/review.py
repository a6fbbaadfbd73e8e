"""GET /v1/review: the station's records a tablet pushed that break a data-quality rule
(shared/review.py; the rules are marked soft where they are checked)."""

from services.volunteers.models import ServiceHours, Station
from shared.review import ReviewSource, review_router
from shared.stations import subtree_dependency

router = review_router([
    ReviewSource("volunteer_hours", ServiceHours, lambda r: f"/v1/volunteer-hours/{r.id}"),
], subtree=subtree_dependency(Station))
