"""The gateway's side: a tablet's file streamed to the owning service, or streamed back from it.

A service that does not answer (or fails, 5xx) is a 503 naming it; any other answer of its own
(the stored file's metadata, 404, 413, 415, 422...) is given back to the tablet as it is."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass

import httpx

from shared.contracts.calls import Service
from shared.contracts.sync.client import SyncUnavailable, device_headers
from shared.contracts.tablet_attachments.schemas import FILE_HEADERS, UPLOAD_HEADERS, UploadQuery
from shared.errors import PROBLEM

PATH = "/internal/sync/attachments"


@dataclass
class Answered:
    """The service's own answer, to give back as it is."""

    status_code: int
    content: bytes
    media_type: str


@dataclass
class File:
    """A stored file, streaming: close it when done (`aclose`), whether or not it was read to the end."""

    media_type: str
    headers: dict[str, str]
    response: httpx.Response

    def chunks(self) -> AsyncIterator[bytes]:
        return self.response.aiter_raw()

    async def aclose(self) -> None:
        await self.response.aclose()


async def upload(service: Service, attachment_id: str, query: UploadQuery, content: AsyncIterable[bytes],
                 sent_with: Mapping[str, str], device_token: str, address: str | None) -> Answered:
    """`sent_with`: the tablet's request headers, of which the body's type, length and language go on."""
    headers = service.headers(device_headers(device_token, address))
    headers.update({name: sent_with[name] for name in UPLOAD_HEADERS if name in sent_with})
    unavailable = f"The {service.name} service did not take the file: upload it again."
    try:
        answer = await service.http.put(f"{PATH}/{attachment_id}", params=query.params(), headers=headers,
                                        content=content)
    except (httpx.HTTPError, OSError) as exc:
        raise SyncUnavailable(unavailable, service=service.name) from exc
    if answer.status_code >= 500:
        raise SyncUnavailable(unavailable, service=service.name)
    return Answered(answer.status_code, answer.content, answer.headers.get("content-type", PROBLEM))


async def download(service: Service, attachment_id: str, device_token: str, address: str | None) -> File | Answered:
    """The file, streaming, or the service's refusal (404...)."""
    unavailable = f"The {service.name} service did not answer: try again."
    http = service.http
    try:
        answer = await http.send(http.build_request("GET", f"{PATH}/{attachment_id}",
                                                    headers=service.headers(device_headers(device_token, address))),
                                 stream=True)
    except (httpx.HTTPError, OSError) as exc:
        raise SyncUnavailable(unavailable, service=service.name) from exc
    if answer.status_code != 200:
        await answer.aread()
        await answer.aclose()
        if answer.status_code >= 500:
            raise SyncUnavailable(unavailable, service=service.name)
        return Answered(answer.status_code, answer.content, answer.headers.get("content-type", PROBLEM))
    return File(answer.headers["content-type"], {k: v for k, v in answer.headers.items() if k in FILE_HEADERS},
                answer)
