from migrations.common import run_env
from services.projects.models import Base

run_env("projects", Base.metadata)
