from services.cases.service import stats as service
from shared.contracts.stats.server import internal_stats_router

router = internal_stats_router(service.answer)
