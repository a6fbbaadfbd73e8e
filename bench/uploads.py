"""Scenario 7: photos uploaded through the gateway by 32 clients at once, each process's peak memory.

The photos are made here as a phone makes them: 4032 x 3024 pixels (12 megapixels, so each is
decoded and re-encoded at full size), noisy enough that the JPEG is about 2 MB, with EXIF carrying
a GPS position, so the pipeline's stripping runs on every one. A social worker of each case's
station posts them to the case's attachments (`POST /v1/cases/{id}/attachments?purpose=photo`,
the raw file as the body), a bounded number of uploads in all. Every answer must be a 201; the
cases' attachment lists, read through the gateway afterwards, must have grown by exactly the
uploads, and the store by a file and a thumbnail each; one stored photo is fetched back and must
carry no EXIF.

Peak memory is VmHWM from /proc, reset for every process just before the uploads start
(clear_refs), so it is this scenario's own peak, not a sync pull's earlier in the run.
"""

from __future__ import annotations

import asyncio
import io
import json
import random
import time
from pathlib import Path

from bench import loadgen

CLIENTS = 32
SIDE = (4032, 3024)
PHOTO_BYTES = 2_000_000
PEAK_LIMIT_MB = 300


def photo(seed: int) -> bytes:
    """A 12-megapixel JPEG of about 2 MB (within 5%), with a phone's EXIF and a GPS position."""
    from PIL import ExifTags, Image, ImageChops

    rng = random.Random(seed)
    width, height = SIDE
    base = Image.linear_gradient("L").resize(SIDE).convert("RGB")
    noise = Image.frombytes("L", SIDE, rng.randbytes(width * height))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Apple"
    exif[ExifTags.Base.Model] = "iPhone 15"
    exif[ExifTags.IFD.GPSInfo] = {ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (30.0, 39.0, 36.0),
                                  ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (104.0, 4.0, 48.0)}
    amplitude = 19.0  # noise amplitude in grey levels; the size grows about linearly with it
    for _ in range(6):
        picture = ImageChops.add(base, noise.point(lambda v, a=amplitude: int(v * a / 255)).convert("RGB"))
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=85, exif=exif)
        size = len(out.getvalue())
        if abs(size - PHOTO_BYTES) <= 0.05 * PHOTO_BYTES:
            break
        amplitude *= PHOTO_BYTES / size
    return out.getvalue()


def stored_files(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def run(runner, storage: Path) -> None:
    """`runner` is the suite's Run; `storage` the cases service's folder of the local store."""
    from PIL import Image

    from bench.suite import per_request  # the suite imports this module

    total, distinct = runner.plan["uploads"], runner.plan["photos"]
    t = time.perf_counter()
    photos = [photo(seed) for seed in range(distinct)]
    made_s = time.perf_counter() - t
    cases = runner.picks["write_cases"][:CLIENTS]
    stations = {c["station_id"]: c["station_path"] for c in cases}
    headers = dict(zip(stations, runner.tokens([("social_worker", sid, path, f"bench-worker-{sid}")
                                                for sid, path in stations.items()]), strict=True))
    base = runner.url("gateway")

    def listed() -> dict[str, list[dict]]:
        return {c["id"]: runner.get("gateway", f"/v1/cases/{c['id']}/attachments",
                                    headers[c["station_id"]]).json()["items"] for c in cases}

    before, files_before = listed(), stored_files(storage)
    created: list[tuple[dict, str]] = []

    async def upload(session, n: int) -> int:
        case = cases[n % len(cases)]
        async with session.post(f"{base}/v1/cases/{case['id']}/attachments", data=photos[n % len(photos)],
                                params={"purpose": "photo", "file_name": f"走访照片-{n}.jpg"},
                                headers={**headers[case["station_id"]], "Content-Type": "image/jpeg"}) as r:
            body = await r.read()
            if r.status != 201:
                return -r.status
            created.append((case, json.loads(body)["id"]))
            return r.status

    servers = runner.servers
    memory_before = {name: s.memory_kib() for name, s in servers.items()}
    reset = all(s.reset_peak() for s in servers.values())
    with runner.cpu.measure() as spent:
        result = asyncio.run(loadgen.run_calls(upload, CLIENTS, total=total))
    memory = {name: s.memory_kib() for name, s in servers.items()}
    peaks_mb = {name: round(m["VmHWM"] / 1024, 1) for name, m in memory.items()}

    ok = int(result.statuses.get("201", 0))
    after, files_after = listed(), stored_files(storage)
    listed_more = sum(len(after[k]) - len(before[k]) for k in after)
    all_stored = listed_more == ok == total and files_after - files_before == 4 * ok
    exif_removed = None
    if created:
        case, attachment = created[0]
        r = runner.get("gateway", f"/v1/cases/{case['id']}/attachments/{attachment}/content",
                       headers[case["station_id"]])
        with Image.open(io.BytesIO(r.content)) as image:
            exif_removed = not image.getexif() and image.size == SIDE
    sent_mb = sum(len(photos[n % len(photos)]) for n in range(total)) / 1e6
    mb_s = sent_mb * ok / total / result.seconds if result.seconds else 0.0
    worst = max(peaks_mb, key=peaks_mb.get)
    runner.add(id="7", name=f"2 MB photos uploaded through the gateway, {CLIENTS} concurrent clients",
               unit="uploads/s", value=result.rps, p50_ms=result.p50_ms, p99_ms=result.p99_ms, errors=result.errors,
               generator=result.generator, cpu_ms=per_request(spent, result.requests, unit=1e3), mb_s=round(mb_s, 2),
               statuses=result.statuses,
               target={"text": f"each process's peak RSS < {PEAK_LIMIT_MB} MB, no errors, every upload stored",
                       "met": max(peaks_mb.values()) < PEAK_LIMIT_MB and result.errors == 0 and all_stored},
               detail=f"{ok:,} of {total:,} uploads answered 201 ({result.rps:.1f}/s, {mb_s:.1f} MB/s) into "
                      f"{len(cases)} cases' attachments, {distinct} photos {SIDE[0]}x{SIDE[1]} of "
                      f"{min(map(len, photos)) / 1e6:.2f}-{max(map(len, photos)) / 1e6:.2f} MB with GPS in EXIF; "
                      f"listed afterwards: {listed_more:+,}, store {files_after - files_before:+,} files "
                      f"({'every upload stored' if all_stored else 'NOT every upload stored'}); EXIF gone from a "
                      f"stored photo: {exif_removed}; peak RSS (VmHWM{'' if reset else ', since start'}) "
                      + ", ".join(f"{k} {v:.0f} MB" for k, v in peaks_mb.items())
                      + f"; highest: {worst}, {memory_before[worst]['VmRSS'] / 1024:.0f} MB before the uploads",
               uploads=total, created=ok, listed=listed_more, stored_files=files_after - files_before,
               exif_removed=exif_removed, photo_bytes=[len(p) for p in photos], photos_made_s=round(made_s, 1),
               peak_reset=reset, peak_rss_mb=peaks_mb, memory_kib=memory, memory_before_kib=memory_before)

