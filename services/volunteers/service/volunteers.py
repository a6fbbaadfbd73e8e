"""Registering volunteers: one record per ID number on the platform, minors only with guardian consent."""

from datetime import date, datetime, timezone
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from services.volunteers.errors import DuplicateIdNumber, UserAlreadyLinked, VolunteerHasRecords
from services.volunteers.models import Station, Volunteer
from services.volunteers.repository import volunteers as repo
from services.volunteers.schemas.volunteers import VolunteerCreate, VolunteerRead, VolunteerUpdate
from services.volunteers.service.counting import Rollup
from services.volunteers.service.references import check_login
from shared import attempts, clock, masking
from shared.errors import Forbidden, InvalidInput
from shared.idnumber import birth_date
from shared.contracts.lookup.client import Asker
from shared.models import new_id
from shared.principals import Principal, Role
from shared.records import IdInUse, Vault, replay, touch
from shared.repository import UniqueViolation, save
from shared.stations import resolve_station

# Linking a login to a volunteer record decides whose records that login reads.
LINKING_ROLES = frozenset({Role.station_head, Role.admin})
ADULT_AGE = 18


def context(record_id: str, field: str) -> str:
    # Binds each ciphertext to its row and column: a value copied elsewhere will not decrypt.
    return f"volunteers.volunteer.{field}:{record_id}"


def id_number_index(vault: Vault, id_type: str, id_number: str) -> str:
    # Typed, so a passport number never matches a permit that happens to share its characters.
    return vault.blind_index(id_number, f"volunteer.{id_type}")


def age_on(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def settle_identity(fields: dict) -> None:
    """Fill birth_on from a mainland ID number and refuse what disagrees; require it otherwise,
    because whether the volunteer is a minor decides whether guardian consent is needed."""
    if fields["id_type"] == "mainland_id":
        born = birth_date(fields["id_number"])
        if born > clock.today():
            raise InvalidInput.field("id_number", "The birth date in this ID number is in the future.")
        if fields.get("birth_on") is None:
            fields["birth_on"] = born
        elif fields["birth_on"] != born:
            raise InvalidInput.field("birth_on", "The birth date differs from the one in the ID number.",
                                     "mismatch")
    elif fields.get("birth_on") is None:
        raise InvalidInput.field("birth_on", "Give the birth date: it decides whether guardian consent is needed.",
                                 "missing")


def check_guardian(born: date, registered_on: date, guardian: dict | None) -> None:
    if age_on(born, registered_on) < ADULT_AGE and not guardian:
        raise InvalidInput.field("guardian_consent", "A volunteer under 18 needs a guardian's recorded consent "
                                 "(name, relation, date).", "guardian_consent_required")


def _seal(vault: Vault, record: Volunteer, fields: dict) -> None:
    for key, value in fields.items():
        if key == "id_number":
            record.id_number_enc = vault.cipher.encrypt(value, context(record.id, "id_number"))
            record.id_number_bidx = id_number_index(vault, record.id_type, value)
        elif key == "phone":
            record.phone_enc = vault.cipher.encrypt(value, context(record.id, "phone"))
        elif key == "guardian_consent":
            value = value or {}
            record.guardian_name = value.get("name")
            record.guardian_relation = value.get("relation")
            record.guardian_consent_on = value.get("consented_on")
        else:
            setattr(record, key, value)


def _check_linking(principal: Principal, fields: dict) -> None:
    if fields.get("user_id") is not None and principal.role not in LINKING_ROLES:
        raise Forbidden("Only a station head or an administrator links a login to a volunteer.",
                        errors=[{"field": "user_id", "message": "not allowed for this role", "code": "forbidden"}])


async def create(session: AsyncSession, vault: Vault, asker: Asker, principal: Principal,
                 body: VolunteerCreate) -> tuple[Volunteer, bool]:
    digest = vault.digest("volunteer", body)
    if (existing := await replay(session, Volunteer, body.id, digest, principal)) is not None:
        return existing, False
    station_id, station_path = await resolve_station(session, Station, principal, body.station_id)
    fields = body.model_dump(exclude={"id", "station_id"})
    _check_linking(principal, fields)
    if fields.get("user_id") is not None:
        await check_login(session, asker, fields["user_id"], station_path)
    record = await register(session, vault, principal, fields, station_id, station_path, body.id or new_id())
    record.create_digest = digest
    return record, True


async def register(session: AsyncSession, vault: Vault, principal: Principal, fields: dict, station_id: int,
                   station_path: str, record_id: str) -> Volunteer:
    """Write one volunteer from validated fields: the single registration and each roster row."""
    settle_identity(fields)
    today = clock.today()
    check_guardian(fields["birth_on"], today, fields.get("guardian_consent"))
    record = Volunteer(id=record_id, station_id=station_id, station_path=station_path, id_type=fields["id_type"],
                       registered_on=today, created_by=principal.user_id, updated_by=principal.user_id, version=1,
                       certified_hours=Decimal(0))
    _seal(vault, record, {k: v for k, v in fields.items() if k != "id_type"})
    await attempts.check(session)
    existing = await repo.find_live_by_id_number(session, record.id_number_bidx)
    if existing:
        raise await _duplicate(session, principal, existing)
    if not record.volunteer_number:
        seq = await repo.next_number(session, station_id, "volunteer", today.year)
        record.volunteer_number = f"V{station_id}-{today.year}-{seq:05d}"
    await _save(session, principal, record)
    rollup = Rollup()
    rollup.volunteer(record, +1)
    await rollup.write(session)
    return record


async def _duplicate(session: AsyncSession, principal: Principal, existing: tuple[str, str] | None
                     ) -> DuplicateIdNumber:
    return DuplicateIdNumber(await attempts.name_if_visible(session, principal, "volunteer", existing))


async def _save(session: AsyncSession, principal: Principal, record: Volunteer) -> None:
    try:
        await save(session, record)
    except UniqueViolation as exc:
        if exc.constraint == "uq_volunteer_id_number":
            # Lost a race with a concurrent registration of the same person.
            raise await _duplicate(session, principal, await repo.find_live_by_id_number(
                session, record.id_number_bidx, record.id)) from None
        if exc.constraint == "uq_volunteer_user_id":
            raise UserAlreadyLinked() from None
        if exc.constraint == "uq_volunteer_volunteer_number":
            raise InvalidInput.field("volunteer_number", "This volunteer number is taken.", "duplicate") from None
        raise IdInUse() from None


async def update(session: AsyncSession, vault: Vault, asker: Asker, principal: Principal, record: Volunteer,
                 expected_version: int, body: VolunteerUpdate) -> Volunteer:
    fields = body.changes()
    touch(record, principal, expected_version)
    if "user_id" in fields:
        _check_linking(principal, {"user_id": fields["user_id"] or "unlink"})
        if fields["user_id"] not in (None, record.user_id):
            await check_login(session, asker, fields["user_id"], record.station_path)
        if fields["user_id"] and await repo.user_linked_elsewhere(session, fields["user_id"], record.id):
            raise UserAlreadyLinked()
    if "guardian_consent" in fields:
        check_guardian(record.birth_on, record.registered_on, fields["guardian_consent"])
    _seal(vault, record, fields)
    await _save(session, principal, record)
    return record


async def delete(session: AsyncSession, principal: Principal, record: Volunteer, expected_version: int) -> None:
    touch(record, principal, expected_version)
    if await repo.has_records(session, record.id):
        raise VolunteerHasRecords()
    rollup = Rollup()
    rollup.volunteer(record, -1)
    record.deleted_at = datetime.now(timezone.utc)
    await rollup.write(session)


def star_level(hours: Decimal, thresholds: list[float]) -> int:
    return sum(1 for t in sorted(thresholds) if hours >= Decimal(str(t)))


def may_reveal(principal: Principal, record: Volunteer) -> bool:
    """Reading this one record: shown in full to those who work with volunteers, and to the volunteer."""
    return masking.in_full(principal, one_record=True, own=record.user_id == principal.user_id)


def id_number_of(vault: Vault, record: Volunteer) -> str:
    return vault.cipher.decrypt(record.id_number_enc, context(record.id, "id_number"))


def to_read(vault: Vault, record: Volunteer, reveal: bool, thresholds: list[float]) -> VolunteerRead:
    id_number = id_number_of(vault, record)
    phone = vault.cipher.decrypt(record.phone_enc, context(record.id, "phone"))
    guardian = ({"name": record.guardian_name, "relation": record.guardian_relation,
                 "consented_on": record.guardian_consent_on} if record.guardian_name else None)
    return masking.apply(VolunteerRead(
        id=record.id, station_id=record.station_id, version=record.version, created_at=record.created_at,
        updated_at=record.updated_at, created_by=record.created_by, updated_by=record.updated_by,
        name=record.name, id_type=record.id_type, id_number=id_number, phone=phone, gender=record.gender,
        birth_on=record.birth_on, skills=record.skills or [], available_times=record.available_times or [],
        volunteer_number=record.volunteer_number, status=record.status, disclosure_consent=record.disclosure_consent,
        guardian_consent=guardian, user_id=record.user_id, registered_on=record.registered_on,
        certified_hours=record.certified_hours, star_level=star_level(record.certified_hours, thresholds),
    ), reveal)
