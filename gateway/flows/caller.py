"""How a flow asks a service as the caller: with their own token, so the service decides scope and
role as for any of its routes, and in their language, so its problems read as the caller's."""

from fastapi import Request

from shared.errors import Unauthorized


def caller_headers(request: Request, token: str | None) -> dict[str, str]:
    """The caller's token (401 without one) and Accept-Language, for a request to a service."""
    if not token:
        raise Unauthorized("Log in and send the access token as 'Authorization: Bearer <token>'.")
    headers = {"Authorization": f"Bearer {token}"}
    if "accept-language" in request.headers:
        headers["Accept-Language"] = request.headers["accept-language"]
    return headers
