"""Records of other services that the volunteers service's records name, checked with their owners
through the gateway as the caller (shared/contracts/lookup): the activity or group session an hours record
was served at (projects), and a volunteer's own login (the gateway's users). An id the owner does
not show the caller is refused naming its field, exactly as one that exists nowhere."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.volunteers.repository import volunteers as repo
from shared.errors import InvalidInput
from shared.contracts.lookup.client import Asker
from shared.principals import Role
from shared.scope import path_under

# activity_kind -> (the owner's lookup, what it is called)
OCCASIONS = {"community_activity": ("/v1/activities/lookup", "activities"),
             "group_session": ("/v1/groups/sessions/lookup", "group sessions")}
ACTIVITIES, SESSIONS = OCCASIONS["community_activity"][0], OCCASIONS["group_session"][0]
BIGINT = 2**63


async def check_occasion(asker: Asker, kind: str, ref: str | None) -> None:
    """An hours record served at an activity or a group session names one the caller can see."""
    if kind not in OCCASIONS or ref is None:
        return
    path, what = OCCASIONS[kind]
    if ref not in await asker.find(path, [ref], owner="projects", what=what):
        raise InvalidInput.field("activity_ref", f"No such {kind.replace('_', ' ')} in your scope.",
                                 "unknown_activity")


async def check_login(session: AsyncSession, asker: Asker, user_id: str, station_path: str) -> None:
    """A volunteer's login decides whose records it reads as its own, so it must be an account the
    caller manages (the gateway answers GET /v1/users/{id} to administrators and station heads for
    their subtree only), of role volunteer, bound to the volunteer's station or one below it."""
    def refused(message: str, code: str) -> InvalidInput:
        return InvalidInput.field("user_id", message, code)

    # Gateway user ids are bigints: anything else names no account (and never reaches a URL).
    if not user_id.isdigit() or int(user_id) >= BIGINT:
        raise refused("No such user among the accounts you manage.", "unknown_user")
    user = await asker.fetch(f"/v1/users/{int(user_id)}", owner="gateway", what="users")
    if user is None:
        raise refused("No such user among the accounts you manage.", "unknown_user")
    if user.get("role") != Role.volunteer.value:
        raise refused("Only a login of role volunteer can be linked to a volunteer.", "not_a_volunteer_login")
    path = await repo.station_path(session, user.get("station_id"))
    if path is None or not path_under(path, station_path):
        raise refused("The login must be bound to the volunteer's station or one below it.", "outside_station")
