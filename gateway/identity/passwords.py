"""Password hashing (argon2id) and the password rules (a zxcvbn strength estimate, NIST SP 800-63B).

Hashing runs in a worker thread: argon2 is deliberately slow and memory-hard, and on the
event loop it would stall every other request for its duration.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
from collections.abc import Iterable

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

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


# zxcvbn's score 3: "safely unguessable", about 10^8 guesses or more (moderate protection against an
# offline attack on a slow hash). NIST SP 800-63B 3.1.1.2: refuse what is common, repetitive or
# sequential, or built on words of the context; ask for nothing else (no forced symbols or digits).
MIN_SCORE = 3
# The platform's own name is the first word anyone tries against it.
PLATFORM_WORDS = ("haolin", "好邻")
# zxcvbn's matching is quadratic in the length: past this it would cost a worker tenths of a second,
# and a password weak in its first 72 characters is weak.
ESTIMATED_LENGTH = 72
# The reason given, from the weakest part zxcvbn found (its own feedback is in English only).
COMMON = "This is a commonly used password; choose another."
CONTEXT = "Do not build the password on your username, your name, the station's name or Haolin."
SEQUENCE = "Sequences and keyboard rows like 1234, abcd or qwerty are easy to guess."
REPEAT = "Repeats like aaaa or abcabc are easy to guess."
DATE = "Dates and years are easy to guess."
GUESSABLE = "This password is easy to guess: use a few uncommon words, or a longer phrase."


async def check_policy(password: str, username: str, field: str = "password", *, context: Iterable[str] = ()) -> None:
    """Refuse a password that is too short or too long, or easy to guess: common, sequential,
    repetitive, or built on `username`, the words of `context` (the user's name, the station's
    name) or the platform's name. 422 naming `field`, with the reason."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword.field(field, f"Use at least {MIN_LENGTH} characters.", "too_short")
    if len(password) > MAX_LENGTH:
        raise WeakPassword.field(field, f"Use at most {MAX_LENGTH} characters.", "too_long")
    if password.strip().casefold() == username.strip().casefold():
        raise WeakPassword.field(field, "The password cannot be the username.", "equals_username")
    words = _words(username, context)
    reason = await asyncio.to_thread(_weakness, password, words)
    if reason is not None:
        raise WeakPassword.field(field, *reason)


def _words(username: str, context: Iterable[str]) -> list[str]:
    # Two characters are a whole name in Chinese (王丽, 好邻); a word only refuses a password whose
    # rest, without it, is weak.
    return [w.strip() for w in (username, *context, *PLATFORM_WORDS) if w and len(w.strip()) >= 2]


def _weakness(password: str, words: list[str]) -> tuple[str, str] | None:
    """(message, code) of what makes the password easy to guess, or None."""
    folded = password.casefold()
    for word in words:
        if word.casefold() in folded:
            # The context word is known to an attacker: what is left must hold on its own.
            rest = folded.replace(word.casefold(), "")
            if len(rest) < 4 or zxcvbn(rest[:ESTIMATED_LENGTH], max_length=ESTIMATED_LENGTH)["score"] < MIN_SCORE:
                return CONTEXT, "context"
    found = zxcvbn(password[:ESTIMATED_LENGTH], user_inputs=words, max_length=ESTIMATED_LENGTH)
    if found["score"] >= MIN_SCORE:
        return None
    kinds = {(m["pattern"], m.get("dictionary_name")) for m in found["sequence"]}
    patterns = {pattern for pattern, _ in kinds}
    if ("dictionary", "user_inputs") in kinds:
        return CONTEXT, "context"
    if ("dictionary", "passwords") in kinds:
        return COMMON, "common"
    if patterns & {"sequence", "spatial"}:
        return SEQUENCE, "sequence"
    if "repeat" in patterns:
        return REPEAT, "repeat"
    if patterns & {"date", "regex"}:
        return DATE, "date"
    return GUESSABLE, "guessable"


def generate_password(username: str, context: Iterable[str] = ()) -> str:
    """A random password (20 URL-safe characters) that passes check_policy for this account."""
    words = _words(username, context)
    while True:
        password = secrets.token_urlsafe(15)
        if password.casefold() != username.strip().casefold() and _weakness(password, words) is None:
            return password
