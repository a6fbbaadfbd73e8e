"""Registering beneficiaries: one record per person and province, sensitive fields sealed."""

from datetime import datetime, timezone

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.errors import BeneficiaryHasCases, DuplicateIdNumber, unknown_populations
from services.cases.identity import birth_date, pinyin_keys
from services.cases.models import Beneficiary, Station
from services.cases.repository import beneficiaries as repo
from services.cases.schemas.beneficiaries import BeneficiaryCreate, BeneficiaryRead, BeneficiaryUpdate
from services.cases.service.counting import Rollup
from shared import attempts, clock, masking
from shared.errors import InvalidInput
from shared.models import new_id
from shared.principals import Principal
from shared.records import IdInUse, Vault, replay, touch
from shared.repository import UniqueViolation, save
from shared.review import Review
from shared.stations import resolve_station

async def check_populations(session: AsyncSession, codes: list[str], field: str = "populations") -> None:
    known = await repo.known_population_codes(session, codes)
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise unknown_populations(field, unknown)


def _context(record_id: str, field: str) -> str:
    # Binds each ciphertext to its row and column: a value copied elsewhere will not decrypt.
    return f"cases.beneficiary.{field}:{record_id}"


def _phone_tail(vault: Vault, phone: str | None) -> str | None:
    return vault.blind_index(phone[-4:], "phone_tail") if phone else None


def _check_birth(fields: dict, id_number: str | None, review: Review, current_birth_on=None) -> None:
    """Fill birth_on from the ID number. A birth date that disagrees with it is a soft rule: one
    of the two is mistyped, and only a person who sees the papers can tell which."""
    born = birth_date(id_number) if id_number else None
    if born is not None and born > clock.today():
        raise InvalidInput.field("id_number", "The birth date in this ID number is in the future.")
    given = fields.get("birth_on", current_birth_on)
    if born is not None and given is None:
        fields["birth_on"] = given = born
    review.rule(born is not None and given != born, "birth_on", "The birth date differs from the one in the ID number.",
                "mismatch")


def _seal(vault: Vault, record: Beneficiary, fields: dict) -> None:
    """Copy input fields onto the row, encrypting and indexing the sensitive ones."""
    for key, value in fields.items():
        if key == "id_number":
            record.id_number_enc = vault.cipher.encrypt(value, _context(record.id, "id_number"))
            record.id_number_bidx = vault.blind_index(value, "id_number")
        elif key == "phone":
            record.phone_enc = vault.cipher.encrypt(value, _context(record.id, "phone"))
            record.phone_tail_bidx = _phone_tail(vault, value)
        elif key == "emergency_contact":
            plain = orjson.dumps(value).decode() if value is not None else None
            record.emergency_contact_enc = vault.cipher.encrypt(plain, _context(record.id, "emergency_contact"))
        elif key == "name":
            record.name = value
            record.name_initials, record.name_pinyin = pinyin_keys(value)
        elif key == "consents":
            record.consents = [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in c.items()}
                               for c in value]
        else:
            setattr(record, key, value)


async def _claim_id_number(session: AsyncSession, principal: Principal, record: Beneficiary,
                           station_path: str) -> None:
    if record.id_number_bidx:
        await attempts.check(session)
        existing = await repo.find_live_by_id_number(session, record.id_number_bidx, station_path, record.id)
        if existing:
            raise await _duplicate(session, principal, existing)


async def _duplicate(session: AsyncSession, principal: Principal, existing: tuple[str, str] | None
                     ) -> DuplicateIdNumber:
    return DuplicateIdNumber(await attempts.name_if_visible(session, principal, "beneficiary", existing))


async def create(session: AsyncSession, vault: Vault, principal: Principal, body: BeneficiaryCreate,
                 review: Review | None = None, source: str = "direct") -> tuple[Beneficiary, bool]:
    """`review`: how the soft rules are met (refused by default; a tablet's push flags them);
    `source`: "roster" for a person registered by a roster import."""
    review = review or Review()
    digest = vault.digest("beneficiary", body)
    if (existing := await replay(session, Beneficiary, body.id, digest, principal)) is not None:
        return existing, False
    station_id, station_path = await resolve_station(session, Station, principal, body.station_id)
    await check_populations(session, body.populations)
    fields = body.model_dump(exclude={"id", "station_id", "registered_on"})
    _check_birth(fields, fields.get("id_number"), review)
    registered_on = body.registered_on or clock.today()
    if fields.get("birth_on") and registered_on < fields["birth_on"]:
        raise InvalidInput.field("registered_on", "A person cannot be registered before being born.")
    record = Beneficiary(id=body.id or new_id(), station_id=station_id, station_path=station_path,
                         registered_on=registered_on, created_by=principal.user_id, updated_by=principal.user_id,
                         create_digest=digest, version=1, source=source)
    _seal(vault, record, fields)
    review.apply(record)
    await _claim_id_number(session, principal, record, station_path)
    try:
        await save(session, record)
    except UniqueViolation as exc:
        if exc.constraint == "uq_beneficiary_id_number_province":
            # Lost a race with a concurrent registration of the same person.
            raise await _duplicate(session, principal, await repo.find_live_by_id_number(
                session, record.id_number_bidx, station_path, record.id)) from None
        raise IdInUse() from None
    rollup = Rollup()
    rollup.beneficiary(record, +1)
    await rollup.write(session)
    return record, True


async def update(session: AsyncSession, vault: Vault, principal: Principal, record: Beneficiary,
                 expected_version: int, body: BeneficiaryUpdate, review: Review | None = None) -> Beneficiary:
    review = review or Review()
    fields = body.changes()
    touch(record, principal, expected_version)
    if "populations" in fields:
        await check_populations(session, fields["populations"])
    if "id_number" in fields or "birth_on" in fields:
        current = vault.cipher.decrypt(record.id_number_enc, _context(record.id, "id_number"))
        _check_birth(fields, fields.get("id_number", current), review, record.birth_on)
    old_populations = list(record.populations)
    _seal(vault, record, fields)
    review.apply(record)
    if fields.get("id_number"):
        await _claim_id_number(session, principal, record, record.station_path)
        try:
            await save(session, record)
        except UniqueViolation:
            raise await _duplicate(session, principal, await repo.find_live_by_id_number(
                session, record.id_number_bidx, record.station_path, record.id)) from None
    if "populations" in fields:
        rollup = Rollup()
        rollup.beneficiary_populations(record, old_populations, record.populations)
        await rollup.write(session)
    return record


async def delete(session: AsyncSession, principal: Principal, record: Beneficiary, expected_version: int) -> None:
    touch(record, principal, expected_version)
    if await repo.has_live_cases(session, record.id):
        raise BeneficiaryHasCases()
    record.deleted_at = datetime.now(timezone.utc)
    rollup = Rollup()
    rollup.beneficiary(record, -1)
    await rollup.write(session)


def to_read(vault: Vault, record: Beneficiary, reveal: bool) -> BeneficiaryRead:
    id_number = vault.cipher.decrypt(record.id_number_enc, _context(record.id, "id_number"))
    phone = vault.cipher.decrypt(record.phone_enc, _context(record.id, "phone"))
    contact_plain = vault.cipher.decrypt(record.emergency_contact_enc, _context(record.id, "emergency_contact"))
    contact = orjson.loads(contact_plain) if contact_plain else None
    return masking.apply(BeneficiaryRead(
        id=record.id, station_id=record.station_id, version=record.version, created_at=record.created_at,
        updated_at=record.updated_at, created_by=record.created_by, updated_by=record.updated_by,
        name=record.name, gender=record.gender, birth_on=record.birth_on, id_number=id_number, phone=phone,
        address=record.address, emergency_contact=contact, self_care=record.self_care,
        disability_type=record.disability_type, disability_grade=record.disability_grade,
        need_level=record.need_level, worker_id=record.worker_id, consents=record.consents or [],
        populations=record.populations or [], registered_on=record.registered_on,
        source=record.source or "direct", review=record.review,
    ), reveal)
