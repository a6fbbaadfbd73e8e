"""Who may do what, and how the tree may be shaped."""

from __future__ import annotations

from shared.principals import Principal, Role
from shared.errors import InvalidInput

from gateway.identity.errors import NotAllowed

# Higher tiers first; a child sits on a strictly lower tier than its parent (tiers may be
# skipped: a county directly under a province, as in municipalities).
KIND_TIER = {"province": 0, "city": 1, "county": 2, "township": 3, "village": 4}

MANAGERS = frozenset({Role.admin, Role.station_head})
# What a station head may create and manage in its subtree; station heads only strictly below.
HEAD_ASSIGNABLE = frozenset({Role.social_worker, Role.supervisor, Role.volunteer})


def check_kind_under(parent_kind: str, kind: str, field: str) -> None:
    if KIND_TIER[kind] <= KIND_TIER[parent_kind]:
        raise InvalidInput.field(field, f"A {kind} station cannot sit under a {parent_kind} station: "
                                 "a child must be on a lower tier than its parent.", "kind_order")


def require_role(actor: Principal, roles: frozenset[Role] | set[Role], action: str) -> None:
    if actor.role not in roles:
        raise NotAllowed(f"Your role ({actor.role.value}) cannot {action}.")


def strictly_below(actor: Principal, station_path: str) -> bool:
    return station_path != actor.station_path and actor.in_scope(station_path)


def may_assign(actor: Principal, role: str, station_path: str) -> bool:
    """May `actor` hold authority over a user with `role` at the station with `station_path`."""
    if not actor.in_scope(station_path):
        return False
    if actor.role is Role.admin:
        return True
    if actor.role is Role.station_head:
        return Role(role) in HEAD_ASSIGNABLE or (Role(role) is Role.station_head and
                                                 strictly_below(actor, station_path))
    return False


def require_may_assign(actor: Principal, role: str, station_path: str) -> None:
    if not may_assign(actor, role, station_path):
        raise NotAllowed(f"Your role ({actor.role.value}) cannot manage {role} users at that station.")


def may_edit_station(actor: Principal, station_path: str) -> bool:
    return actor.in_scope(station_path) and actor.role in MANAGERS


def may_delete_station(actor: Principal, station_path: str) -> bool:
    if actor.role is Role.admin:
        return actor.in_scope(station_path)
    return actor.role is Role.station_head and strictly_below(actor, station_path)
