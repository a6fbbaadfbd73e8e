"""docs/where-things-are.md names the file that owns each behaviour: every path it names must exist,
so a move that forgets the page fails here."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "where-things-are.md"
# A path is a backticked name under one of the repository's top folders (a folder ends in "/").
TOPS = ("gateway", "services", "shared", "ops", "migrations", "tests", "docs", "bench")
PATH = re.compile(r"`((?:%s)/[\w./-]*)`" % "|".join(TOPS))


def named_paths() -> list[str]:
    return sorted(set(PATH.findall(PAGE.read_text(encoding="utf-8"))))


def test_the_page_names_files():
    assert len(named_paths()) > 100


def test_every_path_it_names_exists():
    missing = [p for p in named_paths() if not (ROOT / p).exists() or (p.endswith("/") and not (ROOT / p).is_dir())]
    assert missing == [], "docs/where-things-are.md names paths that do not exist: " + ", ".join(missing)



def test_every_setting_is_named():
    from gateway.config import GatewaySettings
    from services.cases.config import CasesSettings
    from services.projects.config import ProjectsSettings
    from services.volunteers.config import VolunteersSettings

    page = PAGE.read_text(encoding="utf-8")
    settings = {name for cls in (GatewaySettings, CasesSettings, ProjectsSettings, VolunteersSettings)
                for name in cls.model_fields}
    assert sorted(s for s in settings if f"`{s}`" not in page) == []
