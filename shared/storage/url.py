"""STORAGE_URL: where files go.

- unset: local disk, `.data/files/` under the checkout (what `make run` needs: nothing else);
- `file:///var/lib/haolin/files`: local disk at that absolute path;
- `s3://bucket[/prefix]?endpoint=https://s3.example.org&region=cn-north-1`: an S3-compatible store.
  Query options: `endpoint` (omit for AWS itself), `region` (default us-east-1, what most
  S3-compatible servers expect), `addressing=path|virtual` (default path, which every
  S3-compatible server accepts), `part_mb` (multipart part size, default 8, at least 5).
  Credentials never go in the URL: STORAGE_ACCESS_KEY_ID and STORAGE_SECRET_ACCESS_KEY, or,
  without them, botocore's own chain (AWS_ACCESS_KEY_ID..., ~/.aws, an instance role).

Each service keeps its files under its own namespace in the store (`<root>/cases/...`), as it
keeps its tables in its own schema: one service's files can move to another store by itself,
and each namespace is sealed with its own service's field keys.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from shared.storage.base import Storage, check_key
from shared.storage.local import LocalStorage
from shared.storage.s3 import S3Storage

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ROOT = ROOT / ".data" / "files"
_S3_OPTIONS = {"endpoint", "region", "addressing", "part_mb"}


def open_storage(url: str | None, namespace: str, *, access_key_id: str | None = None,
                 secret_access_key: str | None = None) -> Storage:
    """The store STORAGE_URL names, rooted at `namespace` (a service's name). Not started yet:
    `await storage.start()` (or `async with`) in the lifespan."""
    check_key(namespace)
    if not url:
        return LocalStorage(DEFAULT_ROOT / namespace)
    parts = urlsplit(url)
    if parts.scheme == "file":
        path = Path(unquote(parts.path))
        if parts.netloc not in ("", "localhost") or not path.is_absolute():
            raise ValueError("STORAGE_URL file: URLs name an absolute folder: file:///var/lib/haolin/files")
        return LocalStorage(path / namespace)
    if parts.scheme == "s3":
        options = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        unknown = set(options) - _S3_OPTIONS
        if unknown:
            raise ValueError(f"STORAGE_URL has unknown options: {', '.join(sorted(unknown))} "
                             f"(known: {', '.join(sorted(_S3_OPTIONS))})")
        if not parts.hostname:
            raise ValueError("STORAGE_URL s3: URLs name a bucket: s3://haolin?endpoint=https://...")
        if parts.username or parts.password:
            raise ValueError("STORAGE_URL must not carry credentials: set STORAGE_ACCESS_KEY_ID and "
                             "STORAGE_SECRET_ACCESS_KEY")
        addressing = options.get("addressing", "path")
        if addressing not in ("path", "virtual"):
            raise ValueError("STORAGE_URL addressing is path or virtual")
        prefix = "/".join(p for p in [parts.path.strip("/"), namespace] if p)
        return S3Storage(parts.hostname, prefix=prefix, endpoint_url=options.get("endpoint"),
                         region=options.get("region"), access_key_id=access_key_id,
                         secret_access_key=secret_access_key, addressing_style=addressing,
                         part_size=int(float(options.get("part_mb", 8)) * 1024 * 1024))
    raise ValueError("STORAGE_URL is file:///<folder> or s3://<bucket>?endpoint=...; unset means .data/files")
