"""Every enumerated value of the code base has a zh-CN and an en label in shared.labels.

The enums are the real ones, imported from where the code keeps them; a second test walks
every module of shared/, gateway/ and services/ for enums (Enum classes, Literal types, at
module level or inside a pydantic model's fields) so that a new one cannot go unlabelled.
"""

from __future__ import annotations

import enum
import importlib
import importlib.util
import pkgutil
import re
import types
import typing
from pathlib import Path

import pydantic
import pytest

from services.cases.api.attachments import BENEFICIARY_PURPOSES, CASE_PURPOSES
from services.projects.api.attachments import EVALUATION_PURPOSES, EVIDENCE_PURPOSES
from services.volunteers.api.attachments import PURPOSES as HOURS_PURPOSES
from shared.uploads import Kind

from services.cases.schemas.approvals import ApprovableStep, ApprovalStatus
from services.cases.schemas.beneficiaries import (BeneficiarySource, ConsentKind, DisabilityType, Gender, NeedLevel,
                                                  SelfCare)
from services.cases.schemas.cases import CaseStatus, CloseReason
from services.cases.schemas.supervision import SupervisionMode
from services.cases.schemas.transfers import Direction, TransferStatus
from services.cases.schemas.common import ContactMode, RiskLevel
from services.cases.schemas.records import DueItem, GoalStatus, PlanStatus, ReferralRead, ServiceType
from services.cases.schemas.rosters import RowAction
from services.cases.schemas.visits import HealthCode, LivingCode, NeedCode, SafetyCode, VisitMode
from services.projects.schemas.projects import BudgetLine, Grade, ProjectStatus
from services.projects.schemas.work import Stage
from services.volunteers.schemas.hours import ActivityKind, HoursStatus
from services.volunteers.schemas.volunteers import EntryKind, IdType, VolunteerStatus
from services.volunteers.schemas.volunteers import Gender as VolunteerGender
from gateway.identity.schemas import StationKind, UserRole
from gateway.stats.api import Interval
from shared.principals import Role
from shared.labels import LANGS, TABLES, Lang, label, labels
from shared.stats import FIGURES, PERSON_TIMES_PARTS, SYSTEM_FIGURES, TARGET_METRICS

ROOT = Path(__file__).resolve().parents[2]


def values_of(kind) -> list[str]:
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return [m.value for m in kind]
    assert typing.get_origin(kind) is typing.Literal, kind
    return list(typing.get_args(kind))


def seeded_populations() -> list[str]:
    """The codes the cases migration writes into the population table."""
    path = ROOT / "migrations/cases/versions/20261121_casework.py"
    spec = importlib.util.spec_from_file_location("casework_migration", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [code for code, _zh, _en in module.POPULATIONS]


def documented_funding_sources() -> list[str]:
    # An open list: the usual sources are those the API's own field description names.
    description = BudgetLine.model_fields["source"].description
    return re.findall(r"[a-z_]+", description)


# Each label table and the real values it must cover, where the code keeps them.
ENUMS: dict[str, list[str]] = {
    "population": seeded_populations(),
    "method": [m.value.split(".", 1)[1] for m in PERSON_TIMES_PARTS],
    "figure": [*FIGURES, *SYSTEM_FIGURES, *TARGET_METRICS],
    "figure_rule": [*FIGURES, *SYSTEM_FIGURES, *TARGET_METRICS],
    "target_condition": sorted({c for _owner, conditions in TARGET_METRICS.values() for c in conditions}),
    "case_status": values_of(CaseStatus),
    "close_reason": values_of(CloseReason),
    "risk_level": values_of(RiskLevel),
    "approval_step": values_of(ApprovableStep),
    "approval_status": values_of(ApprovalStatus),
    "transfer_status": values_of(TransferStatus),
    "transfer_direction": values_of(Direction),
    "supervision_mode": values_of(SupervisionMode),
    "contact_mode": values_of(ContactMode),
    "service_type": values_of(ServiceType),
    "beneficiary_source": values_of(BeneficiarySource),
    "roster_row_action": values_of(RowAction),
    "visit_mode": values_of(VisitMode),
    "visit_health": values_of(HealthCode),
    "visit_safety": values_of(SafetyCode),
    "visit_living": values_of(LivingCode),
    "visit_need": values_of(NeedCode),
    "goal_status": values_of(GoalStatus),
    "plan_status": values_of(PlanStatus),
    "referral_status": values_of(ReferralRead.model_fields["status"].annotation),
    "due_kind": values_of(DueItem.model_fields["kind"].annotation),
    "gender": values_of(Gender) + values_of(VolunteerGender),
    "self_care": values_of(SelfCare),
    "disability_type": values_of(DisabilityType),
    "need_level": values_of(NeedLevel),
    "consent_kind": values_of(ConsentKind),
    "group_stage": values_of(Stage),
    "project_status": values_of(ProjectStatus),
    "evaluation_grade": values_of(Grade),
    "funding_source": documented_funding_sources(),
    "role": values_of(Role) + values_of(UserRole),
    "station_kind": values_of(StationKind),
    "id_type": values_of(IdType),
    "volunteer_status": values_of(VolunteerStatus),
    "volunteer_entry_kind": values_of(EntryKind),
    "hours_status": values_of(HoursStatus),
    "hours_activity_kind": values_of(ActivityKind),
    "interval": values_of(Interval),
    "lang": values_of(Lang),
    "attachment_purpose": sorted({*CASE_PURPOSES, *BENEFICIARY_PURPOSES, *EVIDENCE_PURPOSES, *EVALUATION_PURPOSES,
                                  *HOURS_PURPOSES}),
    "file_kind": [k.value for k in Kind],
}

# Enums that are machine vocabulary, never shown to a person.
MACHINE = {
    frozenset({"string", "number", "boolean"}),  # shared.sync column types (WatermelonDB schema)
    frozenset({"day", "week", "month", "quarter", "year", "population", "station"}),  # internal stats group_by
    frozenset({"population"}),  # stats ?by=population
    frozenset({"bearer"}),  # OAuth2 token_type
}


class TestEveryValueHasBothLabels:
    @pytest.mark.parametrize("name", sorted(ENUMS))
    def test_table(self, name):
        table = TABLES[name]
        missing = [v for v in ENUMS[name] if v not in table]
        assert not missing, f"{name}: no labels for {missing}"
        for value in ENUMS[name]:
            zh, en = table[value]
            assert zh.strip() and en.strip(), (name, value)
            # A Chinese label is written in Chinese, not left as the English one.
            assert re.search(r"[\u4e00-\u9fff]", zh), (name, value, zh)

    def test_no_stale_labels(self):
        """A table holds the values of its enum and nothing else (a removed value takes its labels along)."""
        assert set(TABLES) == set(ENUMS)
        for name, table in TABLES.items():
            assert set(table) == set(ENUMS[name]), name

    def test_the_chinese_terms_of_the_domain(self):
        # DOMAIN.md's words, as forms and reports use them.
        assert [label("case_status", s, "zh-CN") for s in values_of(CaseStatus)] == [
            "接案", "预估", "计划", "介入", "评估", "结案", "跟进"]
        assert labels("zh-CN")["method"] == {"casework": "个案工作", "group": "小组工作", "community": "社区工作",
                                         "visit": "探访"}
        assert label("population", "child_left_behind", "zh-CN") == "留守儿童"
        assert label("funding_source", "womens_federation", "zh-CN") == "妇联"
        assert label("service_type", "elder_child_care", "en") == "Care for elders and children"
        assert label("station_kind", "village", "zh-CN") == "村(社区)社工服务室"
        # An operator's own population code has no label here: it shows as itself.
        assert label("population", "new_code", "zh-CN") == "new_code"

    def test_labels_in_each_language(self):
        for i, lang in enumerate(LANGS):
            got = labels(lang)
            assert set(got) == set(TABLES)
            for name, table in TABLES.items():
                assert list(got[name]) == list(table)  # the code's order, for pick lists
                assert all(got[name][v] == pair[i] for v, pair in table.items())


def test_each_figure_says_how_it_is_counted():
    """The rules of docs/counting.md in a sentence beside each figure (the dashboard shows them on hover)."""
    rules = TABLES["figure_rule"]
    for figure in ("activities", "volunteers.registered", "volunteers.active", "volunteer.hours",
                   "volunteer.person_times", "supervision.sessions", "supervision.hours",
                   "supervision.cases_reviewed"):
        zh, en = rules[figure]
        assert "不分人群" in zh and "no population split" in en, figure
    assert "开案时" in rules["cases.open"][0] and "populations at opening" in rules["cases.open"][1]
    assert "当前" in rules["beneficiaries.registered"][0] and "current" in rules["beneficiaries.registered"][1]
    assert "目标人群" in rules["groups"][0] and "not registrations" in rules["cases.beneficiaries"][1]


def _literals(annotation) -> typing.Iterator[tuple]:
    """Every Literal inside an annotation (Annotated, unions, lists...)."""
    if typing.get_origin(annotation) is typing.Literal:
        yield typing.get_args(annotation)
        return
    for arg in typing.get_args(annotation):
        if not isinstance(arg, (str, int, float, bool, types.NoneType)):
            yield from _literals(arg)


def _enums_in_code() -> dict[frozenset, str]:
    """Every enum defined in shared/, gateway/ and services/: {values: where}."""
    found: dict[frozenset, str] = {}
    for package in ("shared", "gateway", "services"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, package + "."):
            module = importlib.import_module(info.name)
            for attr, obj in vars(module).items():
                where = f"{info.name}.{attr}"
                if isinstance(obj, type) and issubclass(obj, enum.Enum) and obj.__module__ == info.name:
                    found.setdefault(frozenset(m.value for m in obj), where)
                elif typing.get_origin(obj) is typing.Literal:
                    found.setdefault(frozenset(typing.get_args(obj)), where)
                elif (isinstance(obj, type) and issubclass(obj, pydantic.BaseModel)
                      and obj.__module__ == info.name):
                    for field_name, field in obj.model_fields.items():
                        for args in _literals(field.annotation):
                            found.setdefault(frozenset(args), f"{where}.{field_name}")
    return found


def test_every_enum_of_the_code_has_a_label_table():
    """A new Literal or Enum anywhere in the code must be labelled (or listed as machine vocabulary)."""
    labelled = [set(values) for values in ENUMS.values()]
    found = _enums_in_code()
    assert len(found) > 20  # the walk does see the services' schemas
    unlabelled = {where: sorted(values) for values, where in found.items()
                  if values not in MACHINE and not any(values <= table for table in labelled)}
    assert not unlabelled, f"enums without a label table in shared/labels.py: {unlabelled}"
