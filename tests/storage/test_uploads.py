"""The upload pipeline on both backends: streamed, limited, told by content, cleaned, sealed."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import tracemalloc

import httpx
import pytest
from fastapi import FastAPI, Request
from PIL import Image
from starlette.requests import ClientDisconnect

from shared.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType, install_error_handlers
from shared.storage import SealedFiles, Storage
from shared.storage.s3 import MIN_PART
from shared.uploads import IMAGES, THUMBNAIL_SUFFIX, Kind, Uploads, asgi_body
from shared.uploads.spool import Spool
from tests.storage import samples
from tests.storage.conftest import chunks_of, raw


@pytest.fixture
def uploads(files: SealedFiles) -> Uploads:
    return Uploads(files, max_bytes=2_000_000)


async def stored_keys(storage: Storage) -> list[str]:
    return sorted([k async for k in storage.keys()])


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


class TestImages:
    async def test_a_phone_photo_loses_its_gps_and_every_other_metadata(self, uploads: Uploads, files: SealedFiles):
        sent = samples.jpeg(64, 48, orientation=6)
        assert samples.has_gps(opened(sent)) and b"Hongguang" in sent  # the fixture is what phones send

        accepted = await uploads.accept(chunks_of(sent, 1000))
        assert (accepted.kind, accepted.received, accepted.media_type) == (Kind.JPEG, Kind.JPEG, "image/jpeg")
        stored = await files.read(accepted.key, digest=accepted.digest)
        image = opened(stored)
        assert image.format == "JPEG"
        assert not samples.has_gps(image) and len(image.getexif()) == 0
        assert "xmp" not in image.info and "comment" not in image.info and "exif" not in image.info
        assert b"Hongguang" not in stored and b"GPS" not in stored and b"Apple" not in stored
        assert (accepted.size, accepted.digest) == (len(stored), hashlib.sha256(stored).hexdigest())

    async def test_turned_upright_by_its_orientation(self, uploads: Uploads, files: SealedFiles):
        """Orientation 6: the camera was turned; viewers rotate 90 degrees clockwise. Stored upright,
        with no orientation left for a viewer to apply twice."""
        accepted = await uploads.accept(chunks_of(samples.jpeg(64, 48, orientation=6)))
        image = opened(await files.read(accepted.key))
        assert image.size == (48, 64) == (accepted.width, accepted.height)
        top, bottom = image.getpixel((24, 5)), image.getpixel((24, 58))
        assert top[0] > 200 and top[2] < 60  # the left (red) half of the picture is now on top
        assert bottom[2] > 200 and bottom[0] < 60

    async def test_a_thumbnail(self, uploads: Uploads, files: SealedFiles):
        accepted = await uploads.accept(chunks_of(samples.jpeg(1000, 600, metadata=True)))
        assert accepted.thumbnail_key == accepted.key + THUMBNAIL_SUFFIX
        thumbnail = opened(await files.read(accepted.thumbnail_key))
        assert thumbnail.format == "JPEG" and thumbnail.size == (320, 192)
        assert not samples.has_gps(thumbnail)

    async def test_png_stays_png_with_its_transparency_and_without_its_text(self, uploads: Uploads,
                                                                           files: SealedFiles):
        sent = samples.png()
        assert "Location" in opened(sent).info and samples.has_gps(opened(sent))
        accepted = await uploads.accept(chunks_of(sent))
        assert accepted.kind is Kind.PNG
        image = opened(await files.read(accepted.key))
        assert image.format == "PNG" and image.mode == "RGBA" and image.getpixel((0, 0))[3] == 0
        assert "Location" not in image.info and not samples.has_gps(image)

    async def test_heic_is_stored_as_jpeg_without_gps(self, uploads: Uploads, files: SealedFiles):
        sent = samples.heic()
        assert samples.has_gps(opened(sent))
        accepted = await uploads.accept(chunks_of(sent))
        assert (accepted.kind, accepted.received) == (Kind.JPEG, Kind.HEIC)
        image = opened(await files.read(accepted.key))
        assert image.format == "JPEG" and image.size == (64, 48) and not samples.has_gps(image)

    async def test_a_large_photo_is_scaled_down(self, files: SealedFiles):
        uploads = Uploads(files, max_side=500)
        accepted = await uploads.accept(chunks_of(samples.jpeg(2400, 1200)))
        image = opened(await files.read(accepted.key))
        assert max(image.size) <= 500 and image.size[0] == 2 * image.size[1]

    async def test_a_valid_jpeg_with_something_hidden_after_it_keeps_only_the_picture(self, uploads: Uploads,
                                                                                     files: SealedFiles):
        polyglot = samples.jpeg(metadata=False) + b"PK\x03\x04 <script>alert(1)</script>"
        accepted = await uploads.accept(chunks_of(polyglot))
        stored = await files.read(accepted.key)
        assert b"<script>" not in stored and b"PK\x03\x04" not in stored

    async def test_the_bytes_at_rest_are_not_the_picture(self, uploads: Uploads, storage: Storage):
        accepted = await uploads.accept(chunks_of(samples.jpeg()))
        for key in (accepted.key, accepted.thumbnail_key):
            at_rest = await raw(storage, key)
            assert not at_rest.startswith(b"\xff\xd8") and b"JFIF" not in at_rest


class TestPdf:
    async def test_stored_as_uploaded(self, uploads: Uploads, files: SealedFiles, storage: Storage):
        sent = samples.pdf(b"BT (SENTINEL consent of Zhang) Tj ET")
        accepted = await uploads.accept(chunks_of(sent, 50))
        assert (accepted.kind, accepted.thumbnail_key, accepted.size) == (Kind.PDF, None, len(sent))
        assert accepted.digest == hashlib.sha256(sent).hexdigest()
        assert await files.read(accepted.key, digest=accepted.digest) == sent
        at_rest = await raw(storage, accepted.key)
        assert b"%PDF" not in at_rest and b"SENTINEL" not in at_rest

    async def test_the_same_file_twice_has_the_same_digest(self, uploads: Uploads):
        first = await uploads.accept(chunks_of(samples.pdf()))
        again = await uploads.accept(chunks_of(samples.pdf()))
        assert first.digest == again.digest and first.key != again.key
        photo, photo_again = [await uploads.accept(chunks_of(samples.jpeg())) for _ in range(2)]
        assert photo.digest == photo_again.digest


def broken_pdfs() -> dict[str, bytes]:
    good = samples.pdf()
    xref = good.rindex(b"startxref")
    return {
        "only a header": b"%PDF-1.7\n<html><script>alert(1)</script></html>",
        "cut in half": good[:len(good) // 2],
        "no end": good.replace(b"%%EOF", b"%%EOX"),
        "startxref nowhere": good[:xref] + b"startxref\n99999999\n%%EOF\n",
        "startxref into an object's middle": good[:xref] + b"startxref\n20\n%%EOF\n",
        "a renamed zip behind a header": b"%PDF-1.4\n" + b"PK\x03\x04" + os.urandom(500),
    }


class TestRefused:
    @pytest.mark.parametrize("content", [
        b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200 + b"This program cannot be run in DOS mode",
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b"<svg onload=alert(1)>",
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        b"PK\x03\x04\x14\x00\x00\x00" + b"\x00" * 100,
        b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf",
        b"<html><body>hello</body></html>",
        b"   %PDF-1.7 preceded by spaces",
    ], ids=["renamed exe", "svg", "bare svg", "gif", "zip", "avif", "html", "pdf not at the start"])
    async def test_other_kinds_are_415_naming_the_field(self, uploads: Uploads, storage: Storage, content: bytes):
        with pytest.raises(UnsupportedMediaType) as caught:
            await uploads.accept(chunks_of(content), field="consent_form")
        problem = caught.value.to_problem()
        assert problem["status"] == 415
        assert problem["errors"] == [{"field": "consent_form", "code": "unsupported_type",
                                      "message": "The file must be one of these types: JPEG, PNG, HEIC, PDF."}]
        assert caught.value.headers == {"Accept": "image/jpeg, image/png, image/heic, application/pdf"}
        assert await stored_keys(storage) == []

    async def test_a_kind_the_caller_does_not_take(self, uploads: Uploads, storage: Storage):
        with pytest.raises(UnsupportedMediaType) as caught:
            await uploads.accept(chunks_of(samples.pdf()), kinds=IMAGES, field="photo")
        assert caught.value.errors[0]["message"] == "The file must be one of these types: JPEG, PNG, HEIC."
        assert await stored_keys(storage) == []

    @pytest.mark.parametrize("name,content", [
        ("jpeg magic then html", b"\xff\xd8\xff\xe0<html><script>alert(1)</script></html>" + b" " * 300),
        ("truncated jpeg", samples.jpeg(300, 200, metadata=False)[:900]),
        ("png magic then garbage", b"\x89PNG\r\n\x1a\n" + os.urandom(300)),
        ("heic brand then garbage", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + os.urandom(300)),
    ])
    async def test_a_file_that_only_claims_to_be_an_image_is_422(self, uploads: Uploads, storage: Storage, name,
                                                                 content):
        with pytest.raises(InvalidInput) as caught:
            await uploads.accept(chunks_of(content))
        assert caught.value.errors[0]["field"] == "file" and caught.value.errors[0]["code"] == "invalid_file"
        assert await stored_keys(storage) == []

    @pytest.mark.parametrize("name", list(broken_pdfs()))
    async def test_a_file_that_only_starts_like_a_pdf_is_422(self, uploads: Uploads, storage: Storage, name):
        with pytest.raises(InvalidInput) as caught:
            await uploads.accept(chunks_of(broken_pdfs()[name], 100))
        assert caught.value.errors == [{"field": "file", "code": "invalid_file",
                                        "message": "The file is not a valid PDF document."}]
        assert await stored_keys(storage) == []

    async def test_empty(self, uploads: Uploads, storage: Storage):
        with pytest.raises(InvalidInput) as caught:
            await uploads.accept(chunks_of(b""))
        assert caught.value.errors[0]["code"] == "empty"
        assert await stored_keys(storage) == []

    async def test_a_decompression_bomb_is_refused_before_it_is_decoded(self, files: SealedFiles, storage: Storage):
        """20000 x 20000 pixels (400 million, 1.2 GB decoded) in a few hundred kB of PNG."""
        out = io.BytesIO()
        Image.new("1", (20000, 20000)).save(out, "PNG")
        assert len(out.getvalue()) < 2_000_000
        with pytest.raises(InvalidInput) as caught:
            await Uploads(files).accept(chunks_of(out.getvalue()))
        assert caught.value.errors[0]["code"] == "too_many_pixels"
        assert await stored_keys(storage) == []


class TestSizeLimit:
    async def test_larger_than_the_limit_is_413_and_reading_stops_there(self, files: SealedFiles, storage: Storage):
        read = 0

        async def endless():
            nonlocal read
            while True:
                read += 10_000
                yield b"%PDF-1.7 " + b"x" * 9_991

        with pytest.raises(PayloadTooLarge) as caught:
            await Uploads(files, max_bytes=100_000).accept(endless())
        assert caught.value.to_problem()["status"] == 413
        assert caught.value.errors == [{"field": "file", "message": "at most 100000 bytes", "code": "too_large"}]
        assert read <= 110_000
        assert await stored_keys(storage) == []

    async def test_a_declared_length_over_the_limit_is_refused_before_reading(self, uploads: Uploads):
        async def untouched():
            raise AssertionError("the body was read")
            yield b""

        with pytest.raises(PayloadTooLarge):
            await uploads.accept(untouched(), declared_length=2_000_001)

    async def test_exactly_the_limit_is_taken(self, files: SealedFiles):
        sent = samples.pdf(b"x" * 1000)
        accepted = await Uploads(files, max_bytes=len(sent)).accept(chunks_of(sent))
        assert accepted.size == len(sent)
        with pytest.raises(PayloadTooLarge):
            await Uploads(files, max_bytes=len(sent) - 1).accept(chunks_of(sent))


class TestMemory:
    async def test_a_large_upload_is_streamed_not_held(self, files: SealedFiles, backend: str):
        """Peak Python memory while a PDF is received, checked, sealed and stored stays a small
        fraction of its size: on disk a few chunks, on S3 about two multipart parts (5 MiB here)."""
        size, bound = (20_000_000, 2_000_000) if backend == "local" else (40_000_000, 3 * MIN_PART)
        digest = hashlib.sha256()

        def payload(n: int) -> bytes:
            return os.urandom(n)

        async def body():
            for piece in samples.pdf_parts(size, payload):
                digest.update(piece)
                yield piece

        uploads = Uploads(files, max_bytes=50_000_000)
        tracemalloc.start()
        try:
            accepted = await uploads.accept(body())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert accepted.size > size and accepted.digest == digest.hexdigest()
        assert peak < bound, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.0f} MB upload"
        # Read back streamed and checked end to end.
        check = hashlib.sha256()
        async for chunk in await files.open(accepted.key, digest=accepted.digest):
            check.update(chunk)
        assert check.hexdigest() == accepted.digest


def resident_peak_mb() -> float:
    """This process's peak resident memory since the last `reset_resident_peak()`."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024


def reset_resident_peak() -> None:
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")


class TestPhoneSizedPhotos:
    """A phone's 12-megapixel photo (4032 x 3024): 48 MB once decoded."""

    async def test_stored_at_its_full_size_without_metadata_and_with_a_320_pixel_thumbnail(
            self, uploads: Uploads, files: SealedFiles):
        sent = samples.jpeg(4032, 3024)
        assert samples.has_gps(opened(sent))
        accepted = await uploads.accept(chunks_of(sent, 256 * 1024))
        stored = await files.read(accepted.key, digest=accepted.digest)
        image = opened(stored)
        assert image.format == "JPEG" and image.size == (4032, 3024) == (accepted.width, accepted.height)
        assert not samples.has_gps(image) and len(image.getexif()) == 0 and b"Hongguang" not in stored
        thumbnail = opened(await files.read(accepted.thumbnail_key))
        assert thumbnail.size == (320, 240) and len(thumbnail.getexif()) == 0

    async def test_several_at_once_hold_about_one_decoded_photo_in_memory(self, files: SealedFiles):
        """Two decoded at once would be 96 MB of pixels alone; memory a worker thread freed must not
        stay with the process either."""
        sent = [samples.jpeg(4032, 3024) for _ in range(6)]
        uploads = Uploads(files)
        reset_resident_peak()
        before = resident_peak_mb()
        accepted = await asyncio.gather(*[uploads.accept(chunks_of(photo, 256 * 1024)) for photo in sent])
        grown = resident_peak_mb() - before
        assert [(a.width, a.height) for a in accepted] == [(4032, 3024)] * 6
        assert grown < 90, f"the process grew by {grown:.0f} MB re-encoding six 12-megapixel photos"


class TestSpool:
    async def test_what_waits_on_disk_is_sealed(self):
        async with Spool() as spool:
            await spool.fill(chunks_of(b"SENTINEL of an upload " * 10_000), 10**7, "file")
            spool._file.seek(0)
            on_disk = spool._file.read()
            assert b"SENTINEL" not in on_disk and len(on_disk) > 220_000
            assert (await spool.read()).startswith(b"SENTINEL")
            assert await spool.at(22, 8) == b"SENTINEL"


def upload_app(uploads: Uploads) -> FastAPI:
    """A route as the services will write one: the raw body is the file."""
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/files")
    async def upload(request: Request) -> dict:
        """Store a file."""
        accepted = await uploads.accept_request(request, field="file")
        return {"kind": accepted.kind.value, "digest": accepted.digest}

    return app


class TestOverHttp:
    @pytest.fixture
    async def client(self, files: SealedFiles):
        app = upload_app(Uploads(files, max_bytes=100_000))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            yield client

    async def test_streamed_request_body(self, client: httpx.AsyncClient):
        sent = samples.jpeg()
        r = await client.post("/files", content=chunks_of(sent, 500))
        assert r.status_code == 200, r.text
        assert r.json()["kind"] == "jpeg"

    async def test_413_problem(self, client: httpx.AsyncClient, storage: Storage):
        r = await client.post("/files", content=chunks_of(b"%PDF-1.7 " + b"x" * 200_000, 10_000))
        assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"][0]["field"] == "file"
        r = await client.post("/files", content=b"x" * 100_001, headers={"Accept-Language": "zh-CN"})
        assert (r.status_code, r.json()["detail"]) == (413, "文件超过 100000 字节。")
        assert await stored_keys(storage) == []

    async def test_415_problem_in_chinese(self, client: httpx.AsyncClient):
        r = await client.post("/files", content=b"<svg/>", headers={"Accept-Language": "zh-CN"})
        assert r.status_code == 415 and r.headers["accept"].startswith("image/jpeg")
        body = r.json()
        assert (body["title"], body["type"]) == ("不支持的文件类型", "https://haolin.dev/problems/unsupported-media-type")
        assert body["errors"][0]["message"] == "文件必须是以下类型之一：“JPEG”、“PNG”、“HEIC”、“PDF”。"

    async def test_422_problem_in_chinese(self, client: httpx.AsyncClient):
        r = await client.post("/files", content=b"\xff\xd8\xff" + b"not a picture" * 30,
                              headers={"Accept-Language": "zh-CN"})
        assert r.status_code == 422
        assert r.json()["errors"] == [{"field": "file", "message": "文件不是有效的“JPEG”图片。", "code": "invalid_file"}]


class TestAsgiBody:
    @staticmethod
    def receiving(*messages: dict):
        queue = list(messages)

        async def receive() -> dict:
            return queue.pop(0)

        return receive

    async def test_the_body_as_it_arrives(self, uploads: Uploads):
        sent = samples.pdf()
        receive = self.receiving({"type": "http.request", "body": sent[:100], "more_body": True},
                                 {"type": "http.request", "body": sent[100:], "more_body": False})
        accepted = await uploads.accept(asgi_body(receive))
        assert accepted.digest == hashlib.sha256(sent).hexdigest()

    async def test_a_client_that_leaves_midway_stores_nothing(self, uploads: Uploads, storage: Storage):
        receive = self.receiving({"type": "http.request", "body": samples.pdf()[:300], "more_body": True},
                                 {"type": "http.disconnect"})
        with pytest.raises(ClientDisconnect):
            await uploads.accept(asgi_body(receive))
        assert await stored_keys(storage) == []
