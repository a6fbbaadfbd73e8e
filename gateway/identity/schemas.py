"""Request and response bodies of the identity API (the ORM rows are in gateway.models)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.schemas import CleanText, RowId

StationKind = Literal["province", "city", "county", "township", "village"]
# shared.principals.Role without `service`, which is the gateway itself, never a user.
UserRole = Literal["admin", "official", "station_head", "social_worker", "supervisor", "volunteer"]

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
DivisionCode = Annotated[str, StringConstraints(pattern=r"^\d{6,12}$")]
Username = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[\w.@-]{3,64}$")]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[\d -]{5,31}$")]
# Length and content rules are checked in passwords.check_policy, so the problem names them.
Password = Annotated[str, Field(max_length=1000)]


class Input(CleanText):
    model_config = ConfigDict(extra="forbid")


class StationCreate(Input):
    parent_id: RowId
    kind: StationKind
    name: Name
    code: DivisionCode | None = None


class StationUpdate(Input):
    name: Name | None = None
    code: DivisionCode | None = None


class StationMove(Input):
    parent_id: RowId


class StationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    parent_id: int | None
    path: str
    kind: StationKind
    name: str
    code: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class StationNode(StationRead):
    """A station in a subtree listing; depth 0 is the subtree's root."""

    depth: int


class StationBrief(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    path: str
    kind: StationKind


class UserCreate(Input):
    username: Username
    display_name: DisplayName
    phone: Phone | None = None
    role: UserRole
    station_id: RowId
    password: Password


class UserUpdate(Input):
    display_name: DisplayName | None = None
    phone: Phone | None = None
    role: UserRole | None = None
    station_id: RowId | None = None


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    phone: str | None
    role: UserRole
    station_id: int
    disabled_at: datetime | None
    last_login_at: datetime | None
    failed_logins: int = Field(description="Failed logins since the last successful one, from any address")
    version: int
    created_at: datetime
    updated_at: datetime


class MeRead(UserRead):
    station: StationBrief


class PasswordReset(Input):
    password: Password


class PasswordChange(Input):
    old_password: Password
    new_password: Password


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    refresh_token: str


class LoginAnswer(TokenPair):
    failed_logins: int = Field(description="Failed logins to this account since its last successful one: "
                                           "tell the user, it may be someone guessing their password")
    last_login_at: datetime | None = Field(description="When the account last logged in before this login")


class RefreshRequest(Input):
    refresh_token: Annotated[str, Field(min_length=1, max_length=200)]


class DeviceCreate(Input):
    station_id: RowId = Field(description="The station whose subtree the tablet syncs")
    name: Name = Field(description="What the staff call it, e.g. '和平村社工室平板'")


class DeviceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    station_id: int
    name: str
    created_at: datetime
    created_by: str | None
    revoked_at: datetime | None
    last_sync_at: datetime | None


class DeviceRegistered(DeviceRead):
    credential: str = Field(description="Shown once: the tablet sends it as 'Authorization: Bearer <credential>' "
                                        "to /v1/sync. Only its digest is stored.")
