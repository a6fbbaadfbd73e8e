from migrations.common import run_env
from gateway.models import Base

run_env("gateway", Base.metadata)
