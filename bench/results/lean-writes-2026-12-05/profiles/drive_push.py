"""Drive scenario 5a (pushes of 1,000 service records, one after another) against `bench serve`, for py-spy."""
import json, sys, time, uuid, datetime
import httpx

SERVE = json.load(open(sys.argv[1])); SECONDS = float(sys.argv[2])
gw = SERVE["urls"]["gateway"]; picks = SERVE["picks"]
station = picks["sync_station"]; cases = picks["push_cases"]
r = httpx.post(gw + "/v1/devices", headers=SERVE["admin"], json={"station_id": station["id"], "name": f"prof {uuid.uuid4().hex[:8]}"}, timeout=30)
r.raise_for_status()
device = {"Authorization": f"Bearer {r.json()['credential']}"}
with httpx.stream("GET", gw + "/v1/sync", headers=device, timeout=600, params={"last_pulled_at": "null", "schema_version": "2", "migration": "null"}) as resp:
    body = b"".join(resp.iter_bytes())
ts = json.loads(body)["timestamp"]
print("pulled; pushing", flush=True)
open("/tmp/s20a-prof/push-ready", "w").write("1")
day = datetime.date.today().isoformat(); done = 0; t0 = time.monotonic(); pushes = []
while time.monotonic() - t0 < SECONDS:
    records = [{"id": str(uuid.uuid4()), "case_id": cases[i % len(cases)], "served_on": day, "mode": "home_visit",
                "content": "入户探访，了解近况", "service_type": "elder_child_care", "person_times": 1} for i in range(1000)]
    t = time.perf_counter()
    r = httpx.post(gw + "/v1/sync", headers=device, params={"last_pulled_at": ts}, timeout=300,
                   json={"service_records": {"created": records, "updated": [], "deleted": []}})
    assert r.status_code == 204, r.text
    pushes.append(time.perf_counter() - t); done += 1000
print("pushes", len(pushes), "median s", sorted(pushes)[len(pushes)//2], "records/s", 1000 / sorted(pushes)[len(pushes)//2])
