"""Single-record reads by id: the hot path, on the raw asyncpg pool (shared/db.py), no ORM.

Each read is one constant SELECT, prepared once per pooled connection and reused, with the
same scope as `shared.repository.live`, in its raw SQL form (shared.scope.sql_live_under).
Rows come back as dicts for the *Read schemas, sealed columns decrypted (shared.crypto.open_row),
with the row's `station_path` for the audit log.
"""

from functools import cache

from asyncpg import Pool
from sqlalchemy import Table

from services.cases.models import AuditLog, Beneficiary, Case
from services.cases.schemas.beneficiaries import BeneficiaryRead
from services.cases.schemas.cases import CaseRead
from shared.audit import audited_read
from shared.crypto import open_row
from shared.principals import Principal
from shared.scope import like_prefix, sql_live_under, sql_name


def _columns(table: Table, read_schema, prefix: str = "") -> str:
    """The columns a Read schema shows, in its order; every one must be a column of the table."""
    names = list(read_schema.model_fields)
    missing = [n for n in names if n not in table.c]
    if missing:
        raise RuntimeError(f"{read_schema.__name__} fields without a column in {table.name}: {missing}")
    return ", ".join(f'{prefix}"{n}"' for n in names)


# Each read is logged by the same statement (shared.audit.audited_read): $3... name the reader.
_LOG = AuditLog.__table__
CASE_BY_ID = audited_read(f"SELECT {_columns(Case.__table__, CaseRead)}, station_path FROM {sql_name(Case.__table__)} "
                          f"WHERE id = $1 AND {sql_live_under(2)}", _LOG, "case", 3)

# The sealed columns as stored: service.beneficiaries.to_read decrypts and masks them.
_SEALED = {"id_number": "id_number_enc", "phone": "phone_enc", "emergency_contact": "emergency_contact_enc"}
_BENEFICIARY_COLUMNS = ", ".join('"%s"' % _SEALED.get(n, n) for n in BeneficiaryRead.model_fields)
BENEFICIARY_BY_ID = audited_read(f"SELECT {_BENEFICIARY_COLUMNS}, station_path FROM {sql_name(Beneficiary.__table__)} "
                                 f"WHERE id = $1 AND {sql_live_under(2)}", _LOG, "beneficiary", 3)


@cache
def record_by_id(model, read_schema) -> str:
    """A case's record (assessment, plan...) read together with its case, as the route reads both:
    no row means no such case in scope; a row with a NULL id, the case but no such record."""
    table = model.__table__
    return audited_read(
        f"SELECT c.id AS case_found, {_columns(table, read_schema, 'r.')}, r.station_path "
        f"FROM {sql_name(Case.__table__)} c LEFT JOIN {sql_name(table)} r "
        f"ON r.id = $3 AND r.case_id = c.id AND {sql_live_under(2, 'r')} "
        f"WHERE c.id = $1 AND {sql_live_under(2, 'c')}", _LOG, table.name, 4)


async def case(pool: Pool, case_id: str, principal: Principal, reader: tuple) -> dict | None:
    """`reader`: shared.audit.read_actor(request), for the audit log."""
    row = await pool.fetchrow(CASE_BY_ID, case_id, like_prefix(principal.station_path), *reader)
    return None if row is None else open_row(Case.__table__, row)


async def beneficiary(pool: Pool, beneficiary_id: str, principal: Principal, reader: tuple) -> dict | None:
    row = await pool.fetchrow(BENEFICIARY_BY_ID, beneficiary_id, like_prefix(principal.station_path), *reader)
    return None if row is None else open_row(Beneficiary.__table__, row)


async def case_record(pool: Pool, model, read_schema, case_id: str, record_id: str,
                      principal: Principal, reader: tuple) -> tuple[bool, dict | None]:
    """(whether the case is there, the record or None)."""
    row = await pool.fetchrow(record_by_id(model, read_schema), case_id, like_prefix(principal.station_path),
                              record_id, *reader)
    if row is None:
        return False, None
    if row["id"] is None:
        return True, None
    record = open_row(model.__table__, row)
    del record["case_found"]
    return True, record
