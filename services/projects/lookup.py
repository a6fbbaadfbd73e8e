"""BeneficiaryLookup: which attendee ids are beneficiaries in the caller's scope, and their populations.

The projects service never reads the cases schema. It asks the casework API through the
gateway, with the caller's own bearer token, so the cases service applies the caller's
scope exactly as for any read of theirs; ids it does not return do not exist for them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

from shared.errors import BadGateway, Forbidden, GatewayTimeout, Unauthorized
from shared.observability import request_id_var

log = logging.getLogger("haolin.projects.lookup")
PATH = "/v1/beneficiaries/lookup"
MAX_IDS = 500


@dataclass(frozen=True)
class Found:
    id: str
    station_id: int
    populations: list[str]


class BeneficiaryLookup:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def find(self, token: str, ids: list[str]) -> dict[str, Found]:
        """Beneficiaries among `ids` that the caller may see; BadGateway/GatewayTimeout when unsure."""
        found: dict[str, Found] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), MAX_IDS):
            chunk = unique[start:start + MAX_IDS]
            try:
                r = await self.http.post(PATH, json={"ids": chunk}, headers={
                    "Authorization": f"Bearer {token}", "X-Request-Id": request_id_var.get()})
            except httpx.TimeoutException:
                log.warning("beneficiary lookup timed out")
                raise GatewayTimeout("The casework service did not answer in time; nothing was recorded.",
                                     service="cases") from None
            except httpx.HTTPError as exc:
                log.warning("beneficiary lookup failed: %s", type(exc).__name__)
                raise BadGateway("The casework service could not be reached; nothing was recorded.",
                                 service="cases") from None
            if r.status_code == 401:
                raise Unauthorized("The access token expired during the attendee check; refresh it and retry.")
            if r.status_code == 403:
                raise Forbidden("This role cannot see beneficiaries, so it cannot record named attendees.")
            if r.status_code != 200:
                log.warning("beneficiary lookup answered %s", r.status_code)
                raise BadGateway(f"The casework service answered {r.status_code} to the attendee check; "
                                 "nothing was recorded.", service="cases")
            try:
                for item in r.json()["items"]:
                    found[item["id"]] = Found(item["id"], int(item["station_id"]), list(item["populations"]))
            except (ValueError, KeyError, TypeError):
                raise BadGateway("The casework service's answer was not understood.", service="cases") from None
        return found


def build(base_url: str, timeout_s: float, transport: httpx.AsyncBaseTransport | None = None) -> BeneficiaryLookup:
    return BeneficiaryLookup(httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout_s,
                                               trust_env=False))
