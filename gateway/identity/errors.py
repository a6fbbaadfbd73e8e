"""Domain errors of identity; each carries its status and renders as problem+json."""

from __future__ import annotations

from shared.db import CommitAnyway
from shared.errors import (Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests, Unauthorized, duration,
                           field_error)


# The transaction's writes are the point of these errors (a failed-login count, a revoked
# token family), so the request session commits them before the error is sent.
KeepChanges = CommitAnyway


class StationNotFound(NotFound):
    default_detail = "No such station in your scope."


class UserNotFound(NotFound):
    default_detail = "No such user in your scope."


class StationCycle(Conflict):
    type = "station-cycle"
    default_detail = "A station cannot move under itself or one of its own descendants."
    default_errors = field_error("parent_id", "is the station itself or inside its subtree", "cycle")


class StationNotEmpty(Conflict):
    type = "station-not-empty"


class DuplicateName(Conflict):
    type = "duplicate"

    @classmethod
    def on(cls, field: str, message: str) -> "DuplicateName":
        return cls(message, errors=field_error(field, message, "duplicate"))


class NotAllowed(Forbidden):
    pass


class WeakPassword(InvalidInput):
    pass


class LoginFailed(KeepChanges, Unauthorized):
    type = "login-failed"
    # One message for unknown user and wrong password: no user enumeration.
    default_detail = "Wrong username or password."


class LoginThrottled(KeepChanges, TooManyRequests):
    type = "login-throttled"

    def __init__(self, retry_after_s: int) -> None:
        # The same for every account name, real or not: it tells nothing about the account.
        super().__init__(f"Too many failed logins for this username from your address; try again in "
                         f"{duration(retry_after_s)}.",
                         headers={"Retry-After": str(retry_after_s)}, retry_after=retry_after_s)


class AddressRateLimited(TooManyRequests):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__("Too many login attempts from this address; wait a minute.",
                         headers={"Retry-After": str(retry_after_s)}, retry_after=retry_after_s)


class RefreshRejected(KeepChanges, Unauthorized):
    type = "refresh-rejected"

    def __init__(self, detail: str = "The refresh token is not valid; log in again.") -> None:
        super().__init__(detail)
