"""Password hashing (argon2id) and the password rules.

Hashing runs in a worker thread: argon2 is deliberately slow and memory-hard, and on the
event loop it would stall every other request for its duration.
"""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from gateway.identity.errors import WeakPassword

MIN_LENGTH = 10
# Bounds the hashing cost an attacker can ask for with a huge "password".
MAX_LENGTH = 128


class Passwords:
    def __init__(self, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism,
                                      type=Type.ID)
        # Verified against when the username is unknown, so both failures take as long.
        self._dummy = self._hasher.hash("not a password of anyone")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    def _verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    async def verify(self, stored: str | None, password: str) -> bool:
        """`stored` None: an unknown user; still costs one verification."""
        return await asyncio.to_thread(self._verify, stored, password)

    def needs_rehash(self, stored: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True


@functools.cache
def passwords_for(time_cost: int, memory_kib: int, parallelism: int) -> Passwords:
    return Passwords(time_cost, memory_kib, parallelism)


def from_settings(settings) -> Passwords:
    return passwords_for(settings.password_time_cost, settings.password_memory_kib, settings.password_parallelism)


def check_policy(password: str, username: str, field: str = "password") -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword.field(field, f"Use at least {MIN_LENGTH} characters.", "too_short")
    if len(password) > MAX_LENGTH:
        raise WeakPassword.field(field, f"Use at most {MAX_LENGTH} characters.", "too_long")
    if password.strip().casefold() == username.strip().casefold():
        raise WeakPassword.field(field, "The password cannot be the username.", "equals_username")
