from migrations.common import run_env
from services.volunteers.models import Base

run_env("volunteers", Base.metadata)
