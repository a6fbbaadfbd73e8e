"""Visit rules (how often a person on a roster of a population is due a visit, and which modes count),
inherited down the station tree, and the due lists they make.

A person's rule for a population is the one set at the nearest station at or above theirs, else the
platform's default. A visit is due `every_days` after the last visit of a mode that counts, or after
the person joined the roster when nobody has visited yet; overdue the day after it was due.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.models import VisitRule
from services.cases.repository import visit_rules as repo
from services.cases.schemas.visit_rules import VisitDue, VisitRuleRead, VisitRules, VisitRuleSet, VisitsDue
from services.cases.service.beneficiaries import check_populations
from shared.errors import Conflict
from shared.models import new_id
from shared.principals import Principal
from shared.scope import path_under


class Rules:
    """Every rule that can hold in a subtree, resolved per station path."""

    def __init__(self, rules: list[VisitRule]) -> None:
        # Longest path first: the nearest station's rule wins; the defaults (no path) come last.
        self.rules = sorted(rules, key=lambda r: len(r.station_path or ""), reverse=True)

    def of(self, station_path: str, population: str) -> VisitRule | None:
        return next((r for r in self.rules if r.population == population
                     and (r.station_path is None or path_under(station_path, r.station_path))), None)


async def rules(session: AsyncSession, station_path: str) -> Rules:
    return Rules(await repo.rules_around(session, station_path))


def _read(rule: VisitRule) -> VisitRuleRead:
    return VisitRuleRead(id=rule.id, population=rule.population, every_days=rule.every_days, modes=list(rule.modes),
                         station_id=rule.station_id, source=rule.source, version=rule.version)


async def in_force(session: AsyncSession, station: tuple[int, str]) -> VisitRules:
    found = await rules(session, station[1])
    populations = sorted({r.population for r in found.rules})
    return VisitRules(station_id=station[0], items=[_read(found.of(station[1], p)) for p in populations])


async def set_rule(session: AsyncSession, principal: Principal, station: tuple[int, str],
                   body: VisitRuleSet) -> tuple[VisitRuleRead, bool]:
    """Set (or change) the rule at a station, for its whole subtree below any station's own."""
    await check_populations(session, [body.population], "population")
    rule = await repo.rule_at(session, station[1], body.population)
    created = rule is None
    if created:
        rule = VisitRule(id=new_id(), station_id=station[0], station_path=station[1], population=body.population,
                         version=0)
        session.add(rule)
    rule.every_days, rule.modes, rule.updated_by = body.every_days, list(body.modes), principal.user_id
    rule.version += 1
    rule.updated_at = datetime.now(timezone.utc)
    await session.flush()
    return _read(rule), created


class DefaultRuleKept(Conflict):
    type = "default-rule"

    def __init__(self) -> None:
        super().__init__("The platform's default rule is changed by an operator, not removed; set a station's own.")


async def remove_rule(session: AsyncSession, principal: Principal, rule: VisitRule) -> None:
    if rule.station_path is None:
        raise DefaultRuleKept()
    await session.delete(rule)


@dataclass
class _Due:
    item: VisitDue
    populations: list[str]


async def due(session: AsyncSession, principal: Principal, station_path: str | None, on: date,
              within_days: int | None, worker_id: str | None = None, limit: int = 200) -> VisitsDue:
    """Who on a roster is due a visit by `on` + `within_days` (everyone on a roster when None), most
    overdue first, as seen on `on`: visits after it and memberships starting after it do not count."""
    members = await repo.members_on(session, principal, station_path, on, worker_id)
    resolved = await rules(session, station_path or principal.station_path)
    last = await repo.last_visits(session, sorted({m.beneficiary_id for m, _, _ in members}), on)
    until = on + timedelta(days=within_days) if within_days is not None else None
    people: dict[str, VisitDue] = {}
    for member, name, worker in members:
        rule = resolved.of(member.station_path, member.population)
        if rule is None:
            continue
        visited = max((last[(member.beneficiary_id, m)] for m in rule.modes if (member.beneficiary_id, m) in last),
                      default=None)
        due_on = (visited or member.joined_on) + timedelta(days=rule.every_days)
        if until is not None and due_on > until:
            continue
        found = people.get(member.beneficiary_id)
        if found is not None:
            found.populations = sorted({*found.populations, member.population})
            if due_on >= found.due_on:
                continue
        people[member.beneficiary_id] = VisitDue(
            beneficiary_id=member.beneficiary_id, name=name, station_id=member.station_id, worker_id=worker,
            populations=sorted({member.population, *(found.populations if found else [])}), village=member.village,
            last_visited_on=visited, due_on=due_on, overdue_days=max(0, (on - due_on).days),
            every_days=rule.every_days)
    ordered = sorted(people.values(), key=lambda d: (d.due_on, d.beneficiary_id))
    return VisitsDue(items=ordered[:limit], total=len(ordered))
