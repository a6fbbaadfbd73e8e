"""Masking personal identifiers: one rule per field, applied on every read path.

A Read schema marks each identifier of a person with how it is masked (`Annotated[str | None,
Masked(phone)]`), in nested models too (a beneficiary's emergency contact). A service builds the
Read model in full and passes it through `apply`, which masks every marked field unless the caller
is shown them in full (`in_full`): a single read, a list, a tablet's pull, a certificate, each
goes through the same two functions, so no path can mask a field differently or forget one
(docs/security.md "What is protected, and who sees it").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from shared.crypto import mask
from shared.principals import REVEALING_ROLES, Principal, Role


@dataclass(frozen=True)
class Masked:
    """Field metadata: how the field's value is masked, given it and the model holding it."""

    how: Callable[[str, BaseModel], str]


def id_number(value: str, read: BaseModel) -> str:
    # A mainland number keeps its region (4) and last 4; other documents, their first and last 4.
    mainland = getattr(read, "id_type", "mainland_id") == "mainland_id"
    return mask(value, keep_start=4 if mainland else 1, keep_end=4)


def phone(value: str, read: BaseModel) -> str:
    return mask(value, keep_start=3, keep_end=4)


def name(value: str, read: BaseModel) -> str:
    """A person's name keeps its first character (the family name, mostly): 王** ."""
    return mask(value, keep_start=1, keep_end=0)


def hidden(value: str, read: BaseModel) -> str:
    return mask(value, keep_start=0, keep_end=0)


def in_full(principal: Principal, *, one_record: bool, own: bool = False) -> bool:
    """Are a person's identifiers shown unmasked? To a station head or social worker reading one
    record, and to a volunteer reading their own; masked to every other role and in every list."""
    return one_record and (principal.role in REVEALING_ROLES or (own and principal.role is Role.volunteer))


def apply(read: BaseModel, full: bool) -> BaseModel:
    """`read` with every Masked field masked, nested models included, unless `full`."""
    if full:
        return read
    update: dict[str, Any] = {}
    for field_name, field in type(read).model_fields.items():
        value = getattr(read, field_name)
        if value is None:
            continue
        rule = next((m for m in field.metadata if isinstance(m, Masked)), None)
        if rule is not None and isinstance(value, str):
            update[field_name] = rule.how(value, read)
        elif isinstance(value, BaseModel):
            update[field_name] = apply(value, False)
        elif isinstance(value, list) and value and isinstance(value[0], BaseModel):
            update[field_name] = [apply(v, False) for v in value]
    return read.model_copy(update=update) if update else read
