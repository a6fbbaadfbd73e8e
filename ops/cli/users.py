"""`haolin users ...` and `haolin devices ...`: accounts and station tablets.

A password is never an argument (it would stay in the shell history and in `ps`): it is
generated and printed once, or typed at a hidden prompt with --prompt-password. Nothing here
logs it. A device's credential is printed once; only its digest is stored.
"""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.identity.errors import UserNotFound
from gateway.identity.passwords import from_settings, generate_password
from gateway.identity.repository import users as users_repo
from gateway.identity.schemas import DeviceCreate, UserCreate
from gateway.identity.service import devices as devices_service
from gateway.identity.service import users as users_service
from gateway.identity.service.users import password_context
from ops.cli.context import as_operator, console, find_station, run, validated

users = typer.Typer(help="User accounts: create, reset a password.", no_args_is_help=True)
devices = typer.Typer(help="Station tablets: register one and print its credential.", no_args_is_help=True)

ROLES = "admin, official, station_head, social_worker, supervisor or volunteer"


def _typed(prompt: bool) -> str | None:
    """The password typed at a hidden prompt, or None: one is generated for the account
    (generate_password: 20 URL-safe characters that pass the password rules)."""
    if prompt:
        return typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return None


@users.command("create")
def create_user(
    username: Annotated[str, typer.Option(help="Login name, 3-64 letters, digits, . @ - _")],
    role: Annotated[str, typer.Option(help=ROLES)],
    station: Annotated[str, typer.Option(help="The station's division code or id")],
    display_name: Annotated[str | None, typer.Option(help="Name shown in the apps (default: the username)")] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    prompt_password: Annotated[bool, typer.Option("--prompt-password",
                                                  help="Type the password instead of generating one")] = False,
) -> None:
    """Create a user bound to a station; prints the generated password once."""

    async def work() -> None:
        password = _typed(prompt_password)
        generated = password is None
        async with as_operator() as (session, actor, cfg):
            at = await find_station(session, station)
            name = display_name or username
            password = password or generate_password(username, password_context(name, at))
            body = validated(UserCreate, username=username, display_name=name,
                              phone=phone, role=role, station_id=at.id, password=password)
            created = await users_service.create(session, actor, body, from_settings(cfg))
        console.print(f"created user {created.user.username} (#{created.user.id}, {created.user.role}) "
                      f"at {created.station.name}", highlight=False)
        if generated:
            console.print(f"password: {password}", highlight=False, markup=False)
            console.print("It is shown only this once; the user changes it with POST /v1/me/password.")

    run(work)


@users.command("reset-password")
def reset_password(
    username: Annotated[str, typer.Argument(help="Whose password")],
    prompt_password: Annotated[bool, typer.Option("--prompt-password",
                                                  help="Type the new password instead of generating one")] = False,
) -> None:
    """Set a new password (also lifts a login lock and ends the user's sessions)."""

    async def work() -> None:
        password = _typed(prompt_password)
        generated = password is None
        async with as_operator() as (session, actor, cfg):
            user = await users_repo.by_username(session, username)
            target = user and await users_service.in_scope(session, actor, user.id, for_update=True)
            if not target:
                raise UserNotFound()
            password = password or generate_password(
                target.user.username, password_context(target.user.display_name, target.station))
            await users_service.reset_password(session, actor, target, password, from_settings(cfg))
        console.print(f"new password set for {target.user.username}; their sessions are ended", highlight=False)
        if generated:
            console.print(f"password: {password}", highlight=False, markup=False)

    run(work)


@devices.command("create")
def create_device(
    station: Annotated[str, typer.Option(help="The station whose subtree the tablet syncs (code or id)")],
    name: Annotated[str, typer.Option(help="What the staff call it, e.g. 和平村社工室平板")],
) -> None:
    """Register a station tablet; prints its credential once."""

    async def work() -> None:
        async with as_operator() as (session, actor, _):
            at = await find_station(session, station)
            body = validated(DeviceCreate, station_id=at.id, name=name)
            device, credential = await devices_service.register(session, actor, body.station_id, body.name)
        console.print(f"registered device #{device.id} {device.name} at {at.name}", highlight=False)
        console.print(f"credential: {credential}", highlight=False, markup=False)
        console.print("It is shown only this once: enter it on the tablet (Authorization: Bearer <credential>).")

    run(work)
