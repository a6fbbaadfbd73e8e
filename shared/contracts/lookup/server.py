"""The owner's side of a lookup whose answer is the plain (id, station) of each live record in scope."""

from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts.lookup.schemas import LookupAnswer, LookupItem, LookupQuery
from shared.principals import Principal
from shared.repository import live_ids


async def answer_lookup(session: AsyncSession, model, principal: Principal, query: LookupQuery) -> LookupAnswer:
    """Which of the asked ids (each once) are live rows of `model` in the principal's subtree."""
    rows = await live_ids(session, model, principal, list(dict.fromkeys(query.ids)))
    return LookupAnswer(items=[LookupItem(id=i, station_id=s) for i, s in rows])
