"""GET /v1/review: the station's records a tablet pushed that break a data-quality rule
(shared/review.py; the rules are marked soft where they are checked)."""

from services.cases.models import Beneficiary, Referral, ServiceRecord, Station
from shared.review import ReviewSource, review_router
from shared.stations import subtree_dependency

router = review_router([
    ReviewSource("beneficiaries", Beneficiary, lambda r: f"/v1/beneficiaries/{r.id}"),
    ReviewSource("service_records", ServiceRecord, lambda r: f"/v1/cases/{r.case_id}/service-records/{r.id}"),
    ReviewSource("referrals", Referral, lambda r: f"/v1/cases/{r.case_id}/referrals/{r.id}"),
], subtree=subtree_dependency(Station))
