"""First start: the root station and one administrator, when there is no user at all."""

from __future__ import annotations

import logging

from gateway.config import GatewaySettings
from gateway.identity.passwords import check_policy, from_settings, generate_password
from gateway.identity.repository import stations as stations_repo
from gateway.identity.repository import users as users_repo
from gateway.identity.service.rules import KIND_TIER
from shared.db import Database

log = logging.getLogger("haolin.gateway.bootstrap")
ADMIN_NAME = "Administrator"


async def ensure_admin(db: Database, settings: GatewaySettings) -> bool:
    """Create the root station and the admin on an empty database; True when it did.

    Two gateways starting together both get here: the tree lock makes the second wait and
    then find the first one's admin.
    """
    if settings.root_station_kind not in KIND_TIER:
        raise ValueError(f"GATEWAY_ROOT_STATION_KIND must be one of {', '.join(KIND_TIER)}")
    generated = not settings.admin_password
    context = (ADMIN_NAME, settings.root_station_name)
    password = generate_password(settings.admin_username, context) if generated else settings.admin_password
    await check_policy(password, settings.admin_username, field="ADMIN_PASSWORD", context=context)
    async with db.write_sessions() as session, session.begin():
        await stations_repo.lock_tree(session)
        if await users_repo.any_user(session):
            return False
        root = await stations_repo.first_root(session) or await stations_repo.insert(
            session, parent=None, kind=settings.root_station_kind, name=settings.root_station_name, code=None)
        await users_repo.insert(session, username=settings.admin_username, display_name=ADMIN_NAME,
                                role="admin", station_id=root.id,
                                password_hash=await from_settings(settings).hash(password), created_by="bootstrap")
    log.info("first start: created the root station and the admin user")
    if generated:
        # Printed, never logged: log lines are shipped and kept for months.
        print(f"\n*** Haolin first start: created administrator '{settings.admin_username}' "
              f"with password: {password}\n*** It is shown only this once; change it after logging in "
              "(POST /v1/me/password).\n", flush=True)
    return True
