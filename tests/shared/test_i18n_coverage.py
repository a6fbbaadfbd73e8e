"""Every message the API can give in Chinese is Chinese through and through: the catalogue of
shared/i18n.py (details, titles, messages with values) and the message of every pydantic error
the request bodies of the three services and the gateway produce. Left in ASCII: field names,
codes and values in quotes, paths, header names and a few technical terms."""

from __future__ import annotations

import importlib
import pkgutil
import re
import typing
from datetime import date

import pytest
from pydantic import BaseModel, ValidationError

from shared.i18n import MESSAGES, PATTERNS, TITLES, VALIDATION, translate, validation_message
from shared.schemas import Input

ZH = "zh-CN"
# Terms a Chinese message keeps as they are (what a client sends or matches on).
TERMS = {"Authorization", "Bearer", "token", "credential", "If-Match", "ETag", "JSON", "UUID", "YYYY", "MM", "DD",
         "HH", "true", "false", "null", "id", "xlsx", "CSV", "URL", "ID", "PDF", "Excel", "NUL", "U+0000",
         "Idempotency-Key", "ASCII", "Unicode"}
# One English message for each pattern of the catalogue (a new pattern needs one here).
PATTERN_EXAMPLES = [
    "No such station in your scope.", "No such station in the device's subtree.",
    "No such station in your scope: 12", "No such case.", "Check these fields: name, born_on",
    "The request body is larger than 1048576 bytes.", "The file is larger than 1048576 bytes.",
    "The file must be one of these types: JPEG, PNG, HEIC, PDF.", "The image has more than 50000000 pixels.",
    "at most 100 bytes", "The cases service did not answer in time.", "The cases service could not be reached.",
    "The cases service did not answer; try again.",
    "Services did not answer (cases, projects); the report was not made. Try again.",
    "Your role (volunteer) cannot change stations.", "Unknown population code(s): martians.",
    "Use at most 10 characters.", "Use at least 10 characters.",
    "More than 400 periods: choose a longer interval or a shorter range.",
    "The request body is not valid JSON: line 3, column 7 (Expecting value).",
    "Too many failed logins for this username from your address; try again in 4 min 49 s.",
    "The projects service did not answer in time about the project; nothing was recorded.",
    "The projects service could not be reached about the project; nothing was recorded.",
    "Services did not answer (cases); the station was not deleted. Try again.",
    "A step cannot be dated before the case's last step (2026-03-01).",
    "The case's 'plan' step is awaiting a supervisor's approval.",
    "The answer would hold more than 100000 rows: ask for fewer periods, stations or populations.",
]


def english_left(text: str) -> list[str]:
    """ASCII words of `text` that are neither quoted, nor a path, nor a field name, nor one of TERMS."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"|“[^”]*”|<[^>]*>", "", text)
    text = re.sub(r"(字段|代码)：.*", "", text)  # the fields or codes a problem names, as the client sent them
    text = re.sub(r"/[\w/.{}-]+|\b[a-z]+(?:_[a-z0-9]+)+\b|\b\w+\.\w+\b", "", text)  # paths, field names
    words = re.findall(r"[A-Za-z][A-Za-z0-9+]*(?:-[A-Za-z0-9+]+)*", text)
    return [w for w in words if w not in TERMS and not all(part in TERMS for part in w.split("-"))]


class TestCatalogue:
    def test_titles_and_messages(self):
        for english, chinese in [*TITLES.items(), *MESSAGES.items()]:
            assert translate(english, ZH) == chinese
            assert english_left(chinese) == [], (english, chinese)

    def test_every_pattern_with_its_example(self):
        matched = set()
        for example in PATTERN_EXAMPLES:
            found = [i for i, (pattern, _) in enumerate(PATTERNS) if pattern.fullmatch(example)]
            assert found, f"no pattern for {example!r}"
            matched.add(found[0])
            chinese = translate(example, ZH)
            assert chinese != example and english_left(chinese) == [], (example, chinese)
        assert matched == set(range(len(PATTERNS))), [PATTERNS[i][0].pattern for i in
                                                      set(range(len(PATTERNS))) - matched]


def _request_models() -> list[type[BaseModel]]:
    """Every request body of the gateway and the three services."""
    for package in ("gateway", "services"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, package + "."):
            if ".schemas" in info.name or info.name.endswith("schemas"):
                importlib.import_module(info.name)
    found, todo = set(), [Input, *BaseModel.__subclasses__()]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return sorted((m for m in found if m.__module__.startswith(("gateway.", "services."))
                   and (issubclass(m, Input) or m.__name__.endswith(("Create", "Update", "Input", "Request",
                                                                      "Push", "Move")))),
                  key=lambda m: (m.__module__, m.__name__))


# Values that break a field of any type, each in its own way.
BAD_VALUES = [[[]], "x" * 20_000, -10**30, {"a": 1}, "2026-02-30", "nonsense", 1.5, "", "9" * 40, True, None]


def _errors(model: type[BaseModel]) -> list[dict]:
    errors = []
    for body in ({}, *({name: value for name in model.model_fields} for value in BAD_VALUES)):
        try:
            model.model_validate(body)
        except ValidationError as exc:
            errors += exc.errors()
    return errors


MODELS = _request_models()


class TestValidationMessages:
    def test_there_are_request_models(self):
        names = {m.__name__ for m in MODELS}
        assert {"BeneficiaryCreate", "StationCreate", "UserCreate"} <= names, names

    @pytest.mark.parametrize("model", MODELS, ids=lambda m: f"{m.__module__.split('.')[0]}.{m.__name__}")
    def test_every_error_of_every_request_body(self, model):
        for error in _errors(model):
            message = validation_message(error, ZH)
            assert english_left(message) == [], (error["type"], error["loc"], error.get("msg"), message)

    def test_choices_are_joined_in_chinese(self):
        class Choice(BaseModel):
            gender: typing.Literal["male", "female", "other", "unknown"]
            when: date

        with pytest.raises(ValidationError) as caught:
            Choice.model_validate({"gender": "x", "when": "soon"})
        messages = {e["loc"][0]: validation_message(e, ZH) for e in caught.value.errors()}
        assert messages["gender"] == "应为以下之一：'male'、'female'、'other' 或 'unknown'"

    def test_every_catalogued_type_is_chinese(self):
        ctx = {"min_length": 2, "max_length": 5, "max_digits": 8, "decimal_places": 2, "expected": "'a' or 'b'",
               "gt": 0, "ge": 1, "lt": 9, "le": 8}
        for kind in VALIDATION:
            message = validation_message({"type": kind, "msg": "English", "ctx": ctx}, ZH)
            assert english_left(message) == [], (kind, message)
