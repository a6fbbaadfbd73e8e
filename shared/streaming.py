"""A streamed answer whose stream is closed when the answer ends, however it ends.

Starlette's StreamingResponse (1.10) stops iterating a stream when its client goes away, by
cancelling the task that sends, but never closes the stream: an async generator cancelled while
its chunk was being sent stays suspended at its `yield`, and what it holds stays held until the
garbage collector finds it, which with the cycles a cancellation leaves behind can be many seconds
(25 s in one test run). A service's sync pull holds a REPEATABLE READ transaction and a pooled
connection there, and its snapshot holds back every later pull's cursor and vacuum; the gateway's
pull holds its streams from the services, and so theirs. Every streamed answer of the platform is
one of these.
"""

from __future__ import annotations

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send


class ClosingStreamingResponse(StreamingResponse):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                # Shielded: a request cancelled outright (the server stopping) still ends the
                # stream's transaction and gives back its connection.
                with anyio.CancelScope(shield=True):
                    await aclose()
