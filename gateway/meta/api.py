"""GET /v1/meta/labels: the zh-CN or en label of every enumerated value (shared.labels).

Public (a login page needs them before anyone logs in) and the same for everyone, so
shared caches may keep it; the ETag changes only when a label does.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from gateway.stats.conditional import digest, matches
from shared.i18n import negotiate
from shared.labels import LANGS, Lang, labels

router = APIRouter(prefix="/v1/meta", tags=["meta"])


class Labels(BaseModel):
    lang: Lang
    labels: dict[str, dict[str, str]] = Field(
        description="{enum: {value: label}}: population, method, figure, figure_rule (how each figure is "
                    "counted), case_status, service_type, funding_source, role, station_kind, ...; values in the "
                    "order pick lists show them")


def _answer(lang: Lang) -> tuple[bytes, str]:
    content = {"lang": lang, "labels": labels(lang)}
    return orjson.dumps(content), digest(content)


# Labels change only with the code: each language's answer is made once.
_ANSWERS = {lang: _answer(lang) for lang in LANGS}


@router.get("/labels", summary="Labels of every enumerated value, in Chinese or English", response_class=Response,
            responses={200: {"model": Labels}, 304: {"description": "Not modified: the labels of the ETag sent"}})
async def get_labels(request: Request, lang: Annotated[Lang | None, Query(
        description="zh-CN or en; default: the best of Accept-Language, else zh-CN")] = None) -> Response:
    """The `population` table holds the codes every installation starts with; codes an
    administrator adds come with their own labels from `GET /v1/populations`."""
    lang = lang or negotiate(request.headers.get("accept-language"), "zh-CN")
    body, etag = _ANSWERS[lang]
    headers = {"ETag": etag, "Cache-Control": "public, max-age=3600", "Vary": "Accept-Language",
               "Content-Language": lang}
    if matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
