"""Objects in an S3-compatible store (AWS S3, SeaweedFS, MinIO, Ceph RGW, the clouds' S3 APIs).

The client is aiobotocore (docs/operations.md#files says why). A put of unknown length is sent
as one PutObject when it fits in one part, and otherwise as a multipart upload, one part in
memory at a time (`part_size`, 8 MiB by default, 5 MiB at least: S3's smallest part; about twice
that at the moment a part is joined and sent), aborted when the chunks fail, so a failed put
leaves neither an object nor parts that cost storage.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import AsyncExitStack

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from shared.storage.base import ObjectInfo, ObjectNotFound, Storage, StorageError, check_key, check_prefix

MIN_PART = 5 * 1024 * 1024
DEFAULT_PART = 8 * 1024 * 1024
READ_CHUNK = 256 * 1024
_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3Storage(Storage):
    def __init__(self, bucket: str, *, prefix: str = "", endpoint_url: str | None = None, region: str | None = None,
                 access_key_id: str | None = None, secret_access_key: str | None = None,
                 addressing_style: str = "path", part_size: int = DEFAULT_PART, read_chunk: int = READ_CHUNK,
                 max_connections: int = 20) -> None:
        if part_size < MIN_PART:
            raise ValueError(f"an S3 part is at least {MIN_PART} bytes")
        if (access_key_id is None) != (secret_access_key is None):
            raise ValueError("set both the access key id and the secret access key, or neither")
        self.bucket = bucket
        self.prefix = check_prefix(prefix.strip("/") + "/") if prefix.strip("/") else ""
        self.endpoint_url = endpoint_url
        self.region = region or "us-east-1"
        self._credentials = {"aws_access_key_id": access_key_id, "aws_secret_access_key": secret_access_key}
        self.addressing_style = addressing_style
        self.part_size = part_size
        self.read_chunk = read_chunk
        self.max_connections = max_connections
        self._client = None
        self._stack: AsyncExitStack | None = None

    def __repr__(self) -> str:
        # Never the credentials.
        return f"S3Storage(bucket={self.bucket!r}, prefix={self.prefix!r}, endpoint_url={self.endpoint_url!r})"

    async def start(self) -> None:
        if self._client is not None:
            return
        config = AioConfig(
            s3={"addressing_style": self.addressing_style}, retries={"max_attempts": 4, "mode": "standard"},
            connect_timeout=5, read_timeout=60, max_pool_connections=self.max_connections,
            # No aws-chunked checksum trailers, which not every S3-compatible server takes: each file's
            # chunks are authenticated (AES-GCM) and its digest checked end to end (sealed.py) anyway.
            request_checksum_calculation="when_required", response_checksum_validation="when_required",
        )
        kwargs = {k: v for k, v in self._credentials.items() if v is not None}
        self._stack = AsyncExitStack()
        # Without explicit credentials botocore's own chain applies: AWS_ACCESS_KEY_ID..., profiles, instance roles.
        self._client = await self._stack.enter_async_context(get_session().create_client(
            "s3", endpoint_url=self.endpoint_url, region_name=self.region, config=config, **kwargs))

    async def close(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
        self._client, self._stack = None, None

    @property
    def client(self):
        if self._client is None:
            raise RuntimeError("S3Storage.start() was not called (the lifespan opens the store)")
        return self._client

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        name = self._name(key)
        # The part being gathered, as the chunks that came (joined once, when it is full).
        pending: list[bytes] = []
        pending_size, size, upload_id, etags = 0, 0, None, []
        try:
            async for chunk in chunks:
                size += len(chunk)
                while chunk:
                    take = min(len(chunk), self.part_size - pending_size)
                    pending.append(chunk[:take] if take < len(chunk) else chunk)
                    pending_size += take
                    chunk = chunk[take:]
                    if pending_size == self.part_size:
                        if upload_id is None:
                            upload_id = (await self._call("create_multipart_upload", Key=name))["UploadId"]
                        body = b"".join(pending)
                        pending.clear()
                        pending_size = 0
                        etags.append(await self._upload_part(name, upload_id, len(etags) + 1, body))
                        del body
            if upload_id is None:
                await self._call("put_object", Key=name, Body=b"".join(pending))
            else:
                if pending:
                    etags.append(await self._upload_part(name, upload_id, len(etags) + 1, b"".join(pending)))
                parts = [{"ETag": etag, "PartNumber": n} for n, etag in enumerate(etags, 1)]
                await self._call("complete_multipart_upload", Key=name, UploadId=upload_id,
                                 MultipartUpload={"Parts": parts})
        except BaseException:
            if upload_id is not None:
                # Shielded: a cancelled request must still not leave its parts behind.
                await asyncio.shield(self._abort(name, upload_id))
            raise
        return size

    async def _upload_part(self, name: str, upload_id: str, number: int, body: bytes) -> str:
        answer = await self._call("upload_part", Key=name, UploadId=upload_id, PartNumber=number, Body=body)
        return answer["ETag"]

    async def _abort(self, name: str, upload_id: str) -> None:
        try:
            await self._call("abort_multipart_upload", Key=name, UploadId=upload_id)
        except StorageError:
            pass  # the bucket's lifecycle rule for incomplete uploads is the backstop (docs/operations.md)

    async def get(self, key: str) -> AsyncIterator[bytes]:
        name = self._name(key)
        try:
            answer = await self._call("get_object", Key=name)
        except _NotThere:
            raise ObjectNotFound(key) from None
        return self._chunks(answer["Body"])

    async def _chunks(self, body) -> AsyncIterator[bytes]:
        try:
            async for chunk in body.iter_chunks(self.read_chunk):
                yield chunk
        except (BotoCoreError, ClientError, OSError) as exc:
            raise StorageError(f"the object store failed while sending an object: {type(exc).__name__}") from None
        finally:
            body.close()

    async def stat(self, key: str) -> ObjectInfo | None:
        try:
            answer = await self._call("head_object", Key=self._name(key))
        except _NotThere:
            return None
        return ObjectInfo(key, int(answer["ContentLength"]))

    async def delete(self, key: str) -> None:
        await self._call("delete_object", Key=self._name(key))

    async def keys(self, prefix: str = "") -> AsyncIterator[str]:
        check_prefix(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", ()):
                    yield item["Key"][len(self.prefix):]
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(_reason(exc)) from None

    async def _call(self, operation: str, **kwargs):
        try:
            return await getattr(self.client, operation)(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                raise _NotThere from None
            raise StorageError(_reason(exc)) from None
        except (BotoCoreError, OSError) as exc:
            raise StorageError(_reason(exc)) from None


class _NotThere(Exception):
    pass


def _reason(exc: Exception) -> str:
    # The S3 error code and operation, never the request (it holds the key and, for a put, data).
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"the object store refused {exc.operation_name}: {error.get('Code', '?')}"
    return f"the object store could not be reached: {type(exc).__name__}"
