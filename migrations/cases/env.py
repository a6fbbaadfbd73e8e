from migrations.common import run_env
from services.cases.models import Base

run_env("cases", Base.metadata)
