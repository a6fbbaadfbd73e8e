"""Every route of every process, read from the apps themselves, and minimal valid requests for them.

The routes come from each app's OpenAPI document; routes the document leaves out
(include_in_schema=False: the services' /internal/..., probes, the gateway's proxy) are read from
the app's router, so a route cannot leave the matrix by hiding from the docs.

Request bodies and query strings are synthesised from the operation's JSON Schema: required
fields get the simplest value their schema allows, and every field that refers to another
record (`station_id`, `beneficiary_id`, `members`...) gets an id from the caller's chosen side
of the world. A field that looks like a reference (`*_id`, `*_ids`) but is not in REFERENCES
fails the synthesis: a new kind of reference must be declared here before its route can pass.
"""

from __future__ import annotations

import copy
import functools
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from shared import clock

PROCESSES = ("gateway", "cases", "projects", "volunteers")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ANY = "ANY"

# Body/query field -> record kind; a list field gets a one-item list.
REFERENCES: dict[str, str] = {
    "station_id": "station", "parent_id": "station", "covered_station_ids": "station", "to_station_id": "station",
    "user_id": "user", "worker_id": "user", "supervisor_id": "user", "worker_ids": "user",
    "device_id": "device",
    "beneficiary_id": "beneficiary", "member_id": "beneficiary", "members": "beneficiary", "ids": "beneficiary",
    "case_id": "case", "case_ids": "case",
    "project_id": "project", "group_id": "group", "activity_id": "activity",
    "volunteer_id": "volunteer", "leader_id": "volunteer", "volunteer_ids": "volunteer",
    "team_id": "team", "hours_id": "hours", "activity_ref": "activity",
    # A tablet's file names its record by table and id (PUT /v1/sync/attachments/{id}?table=beneficiaries).
    "record_id": "beneficiary",
}
# Body fields, by process, that name a record another process keeps: checked with its owner through
# the gateway, as the caller (shared/contracts/lookup).
CROSS_SERVICE: dict[str, frozenset[str]] = {
    "cases": frozenset({"project_id"}),
    "projects": frozenset({"volunteer_ids"}),
    "volunteers": frozenset({"activity_ref", "user_id"}),
}
# A lookup's `ids` are of the record kind it looks up (elsewhere `ids` are beneficiaries').
LOOKUP_KINDS: dict[str, str] = {
    "/v1/beneficiaries/lookup": "beneficiary", "/v1/projects/lookup": "project",
    "/v1/activities/lookup": "activity", "/v1/groups/sessions/lookup": "session",
    "/v1/volunteers/lookup": "volunteer",
}
# Path parameter -> record kind, beyond REFERENCES.
PATH_KINDS: dict[str, str] = {
    **REFERENCES, "evaluation_id": "evaluation", "session_id": "session", "entry_id": "entry",
    "certificate_id": "certificate", "approval_id": "approval", "assignment_id": "assignment",
    "certificate_id": "certificate", "visit_id": "visit", "rule_id": "visit_rule",
    "transfer_id": "transfer",
}
# The file a tablet's route (/v1/sync/attachments/{id}, /internal/sync/attachments/{id}) names, by process.
TABLET_FILES = {"gateway": "attachment:beneficiary", "cases": "attachment:beneficiary",
                "projects": "attachment:activity", "volunteers": "attachment:hours"}
# `{record_id}` names the record of the collection just before it.
RECORD_SEGMENTS = {"assessments": "assessment", "plans": "plan", "service-records": "service_record",
                   "referrals": "referral", "follow-ups": "follow_up", "supervision-records": "supervision_record"}
# Required values the plain synthesis cannot guess, by schema name: what makes the body pass the
# service's own rules, so that only the reference under test can refuse it.
OVERRIDES: dict[str, dict[str, Any]] = {
    # An activity's id is checked only when the record says it was served at one.
    "HoursCreate": {"hours": "2", "activity_kind": "community_activity"},
    "CorrectionInput": {"activity_kind": "community_activity"},
    "UserCreate": {"password": "correct horse battery staple"},
    "VolunteerCreate": {"id_number": "11010519491231002X"},
}


class UnknownReference(LookupError):
    pass


@dataclass(frozen=True)
class Route:
    process: str
    method: str
    path: str
    operation: dict | None  # None: not in the OpenAPI document

    @property
    def label(self) -> str:
        return f"{self.process}: {self.method} {self.path}"

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.process, self.method, self.path)

    @property
    def params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    def kind_of(self, param: str) -> str:
        if param == "record_id":
            segment = self.path.split("/{record_id}")[0].rsplit("/", 1)[-1]
            if segment in RECORD_SEGMENTS:
                return RECORD_SEGMENTS[segment]
        if param == "attachment_id":
            # A file of the record whose id comes just before it: "attachment:<that record's kind>".
            owner = re.findall(r"{(\w+)}/attachments/{attachment_id}", self.path)
            if owner:
                return f"attachment:{self.kind_of(owner[0])}"
            # A tablet's route names the file alone: one of a record the process keeps.
            return TABLET_FILES[self.process]
        if param in PATH_KINDS:
            return PATH_KINDS[param]
        raise UnknownReference(f"{self.label}: no record kind for path parameter {{{param}}}; "
                               "declare it in tests/security/authz/routes.py and give the world such a record")

    def url(self, ids: Callable[[str], Any]) -> str:
        """The path with each parameter replaced by ids(kind)."""
        url = self.path
        for param in self.params:
            url = url.replace("{" + param + "}", str(ids(self.kind_of(param))))
        return url


def build_apps() -> dict[str, FastAPI]:
    """Fresh, unstarted apps: enough to read their routes and documents."""
    from gateway.app import create_app as gateway
    from services.cases.app import create_app as cases
    from services.projects.app import create_app as projects
    from services.volunteers.app import create_app as volunteers

    return {"gateway": gateway(), "cases": cases(), "projects": projects(), "volunteers": volunteers()}


def enumerate_routes(apps: dict[str, FastAPI]) -> tuple[list[Route], dict[str, dict]]:
    routes: list[Route] = []
    docs = {}
    for process, app in apps.items():
        doc = docs[process] = app.openapi()
        documented = set()
        for path, item in doc["paths"].items():
            for method, operation in item.items():
                if method.upper() in METHODS:
                    routes.append(Route(process, method.upper(), path, operation))
                    documented.add((method.upper(), path))
        for context in iter_route_contexts(app.routes):
            # A route without methods (an ASGI endpoint such as the gateway's proxy) takes any.
            methods = getattr(context.original_route, "methods", None) or {ANY}
            for method in sorted(methods):
                if method in (*METHODS, ANY) and (method, context.path) not in documented:
                    routes.append(Route(process, method, context.path, None))
    return routes, docs


@functools.cache
def _documented() -> tuple[tuple[Route, ...], dict[str, dict]]:
    routes, docs = enumerate_routes(build_apps())
    return tuple(routes), docs


def documented_routes() -> tuple[list[Route], dict[str, dict]]:
    """enumerate_routes(build_apps()), built once per run: four apps and their documents cost seconds to
    build, and three modules read them. Each caller gets its own copy of the documents (schemathesis and
    the synthesis may resolve or annotate them), read from the same apps."""
    routes, docs = _documented()
    return list(routes), copy.deepcopy(docs)


def _resolve(schema: dict, doc: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = doc["components"]["schemas"][name]
    return schema


def _ref_name(schema: dict) -> str | None:
    return schema["$ref"].rsplit("/", 1)[-1] if "$ref" in schema else None


# The last: a month (YYYY-MM), as the monthly report asks for.
_STRING_CANDIDATES = ("zz1", "zz_code", "x", "1", "ZZ", "110000", f"{date.today():%Y-%m}")


class Synth:
    """Minimal valid values of a JSON Schema; references filled by `refs(kind)`."""

    def __init__(self, doc: dict, refs: Callable[[str], Any], kinds: dict[str, str] | None = None) -> None:
        self.doc = doc
        self.refs = refs
        self.kinds = {**REFERENCES, **(kinds or {})}

    def reference(self, name: str, schema: dict) -> Any:
        kind = self.kinds.get(name)
        if kind is None:
            raise UnknownReference(f"field {name!r} looks like a reference to a record; declare its kind in "
                                   "REFERENCES (tests/security/authz/routes.py)")
        value = self.refs(kind)
        options = [_resolve(s, self.doc) for s in schema.get("anyOf", [schema])]
        types = {o.get("type") for o in options}
        if "array" in types:
            item_types = {_resolve(o.get("items", {}), self.doc).get("type") for o in options
                          if o.get("type") == "array"}
            return [int(value) if "integer" in item_types else str(value)]
        if "integer" in types and "string" not in types:
            return int(value)
        return str(value)

    @staticmethod
    def is_reference(name: str) -> bool:
        return name in REFERENCES or name.endswith("_id") or name.endswith("_ids")

    def contains_reference(self, schema: dict, seen: frozenset = frozenset()) -> bool:
        name = _ref_name(schema)
        if name in seen:
            return False
        seen = seen | {name} if name else seen
        schema = _resolve(schema, self.doc)
        for option in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
            if self.contains_reference(option, seen):
                return True
        if "items" in schema and self.contains_reference(schema["items"], seen):
            return True
        return any(self.is_reference(p) or self.contains_reference(s, seen)
                   for p, s in schema.get("properties", {}).items())

    def value(self, schema: dict, name: str | None = None) -> Any:
        if name is not None and self.is_reference(name):
            return self.reference(name, schema)
        schema_name = _ref_name(schema)
        schema = _resolve(schema, self.doc)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][0]
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [o for o in schema[key] if _resolve(o, self.doc).get("type") != "null"]
                return self.value(options[0] if options else schema[key][0])
        if "allOf" in schema:
            return self.value(schema["allOf"][0])
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            return self.object(schema, schema_name)
        if kind == "array":
            count = schema.get("minItems", 0)
            return [self.value(schema.get("items", {})) for _ in range(count)]
        if kind == "integer":
            return max(1, schema.get("minimum", 1), schema.get("exclusiveMinimum", 0) + 1)
        if kind == "number":
            return max(1, schema.get("minimum", 1))
        if kind == "boolean":
            return False
        if kind == "string":
            return self.string(schema)
        if kind == "null":
            return None
        return "zz1"

    def string(self, schema: dict) -> str:
        fmt = schema.get("format")
        if fmt == "date":
            return clock.today().isoformat()
        if fmt == "date-time":
            return datetime.now(UTC).isoformat()
        if fmt == "time":
            return "09:00:00"
        if fmt == "uuid":
            return str(uuid.uuid4())
        low, high = schema.get("minLength", 1), schema.get("maxLength", 10_000)
        pattern = schema.get("pattern")
        for candidate in _STRING_CANDIDATES:
            text = candidate * max(1, -(-low // len(candidate)))
            text = text[:max(low, len(candidate))][:high]
            if len(text) >= low and (pattern is None or re.search(pattern, text)):
                return text
        raise UnknownReference(f"no simple string fits {schema}; add the field to OVERRIDES")

    def object(self, schema: dict, schema_name: str | None) -> dict:
        out: dict[str, Any] = {}
        required = set(schema.get("required", []))
        for prop, sub in schema.get("properties", {}).items():
            if prop == "id":
                continue  # a client-made id: the service makes one
            if prop in required or self.is_reference(prop) or self.contains_reference(sub):
                out[prop] = self.value(sub, prop)
        out.update(OVERRIDES.get(schema_name or "", {}))
        return out


@dataclass
class Request:
    method: str
    url: str
    params: dict[str, Any]
    json: Any = None
    files: dict | None = None
    data: dict | None = None


def build_request(route: Route, doc: dict, path_ids: Callable[[str], Any], refs: Callable[[str], Any],
                  with_optional_refs: bool = True) -> Request:
    """A request for `route`: path parameters from path_ids(kind), references in the query and body
    from refs(kind), other required values synthesised."""
    synth = Synth(doc, refs, {"ids": LOOKUP_KINDS[route.path]} if route.path in LOOKUP_KINDS else None)
    url = route.url(path_ids)
    params: dict[str, Any] = {}
    operation = route.operation or {}
    for param in operation.get("parameters", []):
        if param.get("in") != "query":
            continue
        name, schema = param["name"], param.get("schema", {})
        if Synth.is_reference(name):
            if with_optional_refs or param.get("required"):
                params[name] = synth.reference(name, schema)
        elif param.get("required"):
            params[name] = synth.value(schema)
    request = Request(route.method, url, params)
    body = operation.get("requestBody")
    if body:
        content = body.get("content", {})
        if "application/json" in content:
            request.json = synth.value(content["application/json"]["schema"])
        elif "multipart/form-data" in content:
            schema = content["multipart/form-data"]["schema"]
            form = synth.value(schema)
            binary = {k for k, s in _resolve(schema, doc).get("properties", {}).items()
                      if _resolve(s, doc).get("format") == "binary" or "contentMediaType" in _resolve(s, doc)}
            # A roster with a header and no rows: valid as a file, registering nobody.
            request.files = {k: ("roster.csv", "姓名,证件号码\n".encode(), "text/csv") for k in binary}
            request.data = {k: v for k, v in form.items() if k not in binary}
        elif "application/x-www-form-urlencoded" in content:
            request.data = synth.value(content["application/x-www-form-urlencoded"]["schema"])
    return request


def cross_service_fields(route: Route, doc: dict) -> list[str]:
    """The fields of the route's JSON body that name another process's record."""
    content = ((route.operation or {}).get("requestBody") or {}).get("content", {})
    if route.method not in ("POST", "PUT", "PATCH") or "application/json" not in content:
        return []
    schema = _resolve(content["application/json"]["schema"], doc)
    return sorted(CROSS_SERVICE.get(route.process, frozenset()) & set(schema.get("properties", {})))
