from services.cases.service import project_stats as service
from shared.contracts.progress.server import project_stats_router

router = project_stats_router(service.answer)
