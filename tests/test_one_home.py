"""Each rule is written once: these facts fail when a second copy of one creeps back in.

They read the source, as a new engineer would with grep: the role sets and the reader
dependencies (shared/principals.py), the scope rule (shared/scope.py), the phone pattern
(shared/phone.py), what an open case is (services/cases/schemas/cases.py), and routes that grep
finds by their paths.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

ROOT = Path(__file__).resolve().parent.parent
CODE = ("shared", "services", "gateway", "ops")
# Modules another change of the same issue is taking apart (shared/audit, sync and persons); their
# copies of these rules go with that change. Remove an entry once its module has moved.


def sources(*tops: str, skip: frozenset[str] = frozenset()) -> dict[str, str]:
    found = {}
    for top in tops:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel not in skip:
                found[rel] = path.read_text(encoding="utf-8")
    return found


def where(pattern: str, files: dict[str, str]) -> list[str]:
    regex = re.compile(pattern, re.M)
    return [f"{rel}:{text.count(chr(10), 0, m.start()) + 1}" for rel, text in files.items()
            for m in regex.finditer(text)]


class TestPrincipals:
    def test_role_sets_and_roles_are_defined_in_principals_only(self):
        names = r"(PERSONAL_READERS|PERSONAL_WRITERS|SENSITIVE_READERS|REVEALING_ROLES|DEVICE_ROLE)"
        found = where(rf"^{names}\s*=|^class Role\b", sources(*CODE))
        assert found and all(f.startswith("shared/principals.py:") for f in found), found

    def test_a_device_acts_as_a_social_worker_in_one_place(self):
        found = where(r"role=Role\.social_worker", sources(*CODE))
        assert found == [], found

    def test_only_principals_refuses_a_role_that_does_not_read_personal_records(self):
        refusals = where(r"if not \(?principal\.may_(read|write)_personal\b", sources(*CODE))
        assert all(f.startswith("shared/principals.py:") for f in refusals), refusals

    def test_each_reader_dependency_says_its_answer(self):
        from shared import principals

        for name in ("PersonalReaderOr403", "PersonalWriterOr403", "PersonalReaderOr404", "PersonalWriterOr404"):
            assert hasattr(principals, name)
        files = sources("services", "shared")
        assert where(r"\b(ReaderDep|WriterDep|require_personal_reader|require_personal_writer)\b", files) == []


class TestScope:
    def test_no_station_path_prefix_check_outside_the_scope_module(self):
        files = sources("services", "shared", skip=frozenset({"shared/scope.py"}))
        files["gateway/identity/repository/hot.py"] = (ROOT / "gateway/identity/repository/hot.py").read_text()
        services = {rel: text for rel, text in files.items() if rel.startswith("services/")}
        # In the services, a prefix test on anything named a path is a scope check.
        assert where(r"path\b[^\n]*\.startswith\(|startswith\([^\n]*path", services) == []
        # In shared/, URL paths and storage keys are tested by prefix too; station paths are not.
        assert where(r"station_path[\w.\]\)]*\.startswith\(|\.path\.startswith\(", files) == []
        assert where(r"\bLIKE \$|\+ \"%\"|\+ '%'", files) == []
        # A loaded row: shared.scope.live_row_in.
        assert where(r"deleted_at is None and \w+\.in_scope\(", files) == []

    def test_principal_scope_is_gone_and_in_scope_asks_the_scope_module(self):
        from shared.principals import Principal

        assert not hasattr(Principal, "scope")
        assert "path_under" in inspect.getsource(Principal.in_scope)

    def test_a_table_is_named_for_raw_sql_in_one_place(self):
        found = where(r"^def (_name\(table|sql_name\()", sources(*CODE))
        assert found == ["shared/scope.py:" + found[0].split(":")[1]], found


class TestStreams:
    def test_every_streamed_answer_closes_its_stream(self):
        # Starlette's own leaves a stream its client left suspended, holding its transaction or its
        # upstreams until the garbage collector comes (shared/streaming.py).
        found = where(r"\bStreamingResponse\(", sources(*CODE))
        assert found == [], found


class TestPhone:
    def test_the_phone_pattern_is_written_once(self):
        found = where(r"1\[3-9\]\\d\{9\}", sources(*CODE))
        assert len(found) == 1 and found[0].startswith("shared/phone.py:"), found


class TestOpenCase:
    def test_open_statuses_live_beside_case_status(self):
        found = where(r"^(OPEN_STATUSES|UNCLOSED_STATUSES)\s*=", sources("services/cases"))
        assert [f.split(":")[0] for f in found] == ["services/cases/schemas/cases.py"] * 2, found

    def test_case_statuses_are_compared_through_the_enum(self):
        from services.cases.schemas.cases import CaseState

        words = "|".join(s.value for s in CaseState)
        bare = where(rf"""status\w*\s*(==|!=|in)\s*\(?\{{?["']({words})["']|\.in_\(\(["']({words})["']""",
                     sources("services/cases"))
        assert bare == [], bare

    def test_a_case_state_hashes_as_its_value(self):
        # Sets of CaseState are matched against the plain strings stored in the column.
        from services.cases.schemas.cases import OPEN_STATUSES, UNCLOSED_STATUSES, CaseState, CaseStatus

        assert all(s.name == s.value for s in CaseState)
        assert set(CaseStatus.__args__) == {s.value for s in CaseState}
        assert "intake" in OPEN_STATUSES and "follow_up" not in OPEN_STATUSES
        assert UNCLOSED_STATUSES == {s for s in CaseState if s is not CaseState.closed}


def _service_routes():
    from services.cases.app import create_app as cases
    from services.projects.app import create_app as projects
    from services.volunteers.app import create_app as volunteers

    for app in (cases(), projects(), volunteers()):
        for context in iter_route_contexts(app.routes):
            route = context.original_route
            if isinstance(route, APIRoute) and route.endpoint.__module__.startswith("services."):
                yield context.path, route


class TestRoutesFoundByPath:
    @pytest.mark.parametrize(("path", "route"), list(_service_routes()),
                             ids=lambda r: r if isinstance(r, str) else sorted(r.methods)[0])
    def test_every_service_route_is_a_function_under_its_literal_path(self, path: str, route: APIRoute):
        """A route made by a factory or a loop has no literal path in the source: grep cannot find it."""
        source = inspect.getsource(route.endpoint)
        literals = re.findall(r'@router\.(?:get|post|put|patch|delete)\(\s*"([^"]*)"', source)
        assert literals, f"{route.endpoint.__qualname__} is not under a @router decorator"
        assert any(path.endswith(literal) for literal in literals), (path, literals)
        assert "<locals>" not in route.endpoint.__qualname__

    def test_the_case_actions_and_record_kinds_are_found_by_grep(self):
        text = "".join(sources("services/cases/api").values())
        for path in ('"/{case_id}/close"', '"/{case_id}/follow-up"', '"/referrals/{record_id}/accept"',
                     '"/service-records/{record_id}"', '"/follow-ups"'):
            assert path in text, path
