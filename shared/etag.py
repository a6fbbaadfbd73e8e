"""ETag / If-Match for optimistic concurrency on records with a `version` column, and the headers of
a create's answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response, status

from shared.errors import PreconditionFailed, PreconditionRequired


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def answer_created(response: Response, created: bool, version: int, location: str) -> None:
    """A create's answer: the route's 201, or 200 when its client id named a record made already (a
    retry, answered with that record); the record's ETag and its Location."""
    if not created:
        response.status_code = status.HTTP_200_OK
    set_etag(response, version)
    response.headers["Location"] = location


def required_version(request: Request) -> int:
    """The version the client last read, from If-Match; updates without it answer 428."""
    header = request.headers.get("if-match")
    if not header:
        raise PreconditionRequired("Send If-Match with the ETag of the record you read.")
    value = header.strip()
    if value.startswith("W/"):
        value = value[2:]
    try:
        return int(value.strip('"'))
    except ValueError:
        raise PreconditionFailed("If-Match is not an ETag this API gave out.") from None


async def optional_version(request: Request) -> int | None:
    """Actions accept If-Match to guard against acting on a stale view, but do not require it."""
    return required_version(request) if request.headers.get("if-match") else None


OptionalIfMatchDep = Annotated[int | None, Depends(optional_version)]


def check_version(expected: int, actual: int) -> None:
    if expected != actual:
        raise PreconditionFailed(
            "The record changed since you read it; read it again and reapply your change.",
            current_version=actual,
        )
