"""The audience rule engine: every operator on every namespace, missing values, nesting,
event occurrence, and every validation error with its location."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from rapport.audiences.rules import (
    MISSING,
    AllOf,
    AnyOf,
    Comparison,
    EventCondition,
    Not,
    RuleError,
    attributes,
    dump_rule,
    evaluate,
    event_conditions,
    parse_rule,
)
from rapport.audiences.session import EventLog

NOW = 1_718_000_000.0  # 2024-06-10, a Monday
DAY = 86400.0


class DictSubject:
    """A subject whose attributes are a plain mapping of paths; it records what it was
    asked, so short-circuiting can be observed."""

    def __init__(
        self,
        values: Mapping[str, object],
        events: list[tuple[str, float]] | None = None,
        now: float = NOW,
    ) -> None:
        self.values = values
        self.log = EventLog(events or [])
        self._now = now
        self.asked: list[str] = []
        self.counted: list[tuple[str, float | None]] = []

    @property
    def now(self) -> float:
        return self._now

    def value(self, path: str) -> object:
        self.asked.append(path)
        return self.values.get(path, MISSING)

    def event_count(self, pattern: str, since: float | None) -> int:
        self.counted.append((pattern, since))
        return self.log(pattern, since)


VALUES: dict[str, object] = {
    "profile.plan": "gold",
    "profile.age": 34,
    "profile.score": 4.5,
    "profile.vip": True,
    "profile.tags": ["beta", "early", 7],
    "profile.address.city": "Paris",
    "profile.signup_date": "2024-03-15",
    "profile.nothing": None,
    "computed.first_seen": 1_700_000_000.0,
    "computed.last_seen": 1_717_000_000.0,
    "computed.event_count": 42,
    "computed.timezone": "Europe/Paris",
    "computed.locale": "fr-FR",
    "computed.count.purchase": 3,
    "computed.category.conversion": 5,
    "session.utm_medium": "email",
    "session.page_views": 3,
    "session.logged_in": False,
    "time.day_of_week": "Saturday",
    "time.hour": "09",
    "geo.country": "FR",
    "geo.country_name": "France",
    "geo.region": "IDF",
    "geo.region_name": "Île-de-France",
    "geo.city": "Paris",
    "device.type": "mobile",
    "device.os": "iOS",
    "device.browser": "Mobile Safari",
}


def check(rule: object, values: Mapping[str, object] = VALUES) -> bool:
    return evaluate(parse_rule(rule), DictSubject(values))


def cmp(attribute: str, op: str, value: object = None) -> dict[str, object]:
    rule: dict[str, object] = {"attribute": attribute, "op": op}
    if value is not None:
        rule["value"] = value
    return rule


# --- operators on every namespace ------------------------------------------------------

OPERATOR_CASES = [
    # eq / ne: strict types; ints and floats compare as numbers
    ("profile.plan", "eq", "gold", True),
    ("profile.plan", "eq", "Gold", False),
    ("profile.age", "eq", 34, True),
    ("profile.age", "eq", 34.0, True),
    ("profile.age", "eq", "34", False),
    ("profile.vip", "eq", True, True),
    ("profile.vip", "eq", 1, False),
    ("profile.age", "eq", True, False),
    ("profile.address.city", "eq", "Paris", True),
    ("profile.tags", "eq", "beta", False),
    ("computed.event_count", "eq", 42, True),
    ("computed.timezone", "eq", "Europe/Paris", True),
    ("computed.locale", "eq", "en-US", False),
    ("computed.count.purchase", "eq", 3, True),
    ("computed.category.conversion", "eq", 4, False),
    ("session.utm_medium", "eq", "email", True),
    ("session.page_views", "eq", 3, True),
    ("session.logged_in", "eq", False, True),
    ("session.logged_in", "eq", 0, False),
    ("time.day_of_week", "eq", "Saturday", True),
    ("time.day_of_week", "eq", "Sunday", False),
    ("time.hour", "eq", "09", True),
    ("geo.country", "eq", "FR", True),
    ("geo.country_name", "eq", "Germany", False),
    ("geo.region", "eq", "IDF", True),
    ("geo.region_name", "eq", "Île-de-France", True),
    ("geo.city", "eq", "Paris", True),
    ("device.type", "eq", "mobile", True),
    ("device.type", "eq", "desktop", False),
    ("device.os", "eq", "iOS", True),
    ("device.browser", "eq", "Chrome", False),
    ("profile.plan", "ne", "gold", False),
    ("profile.plan", "ne", "silver", True),
    ("profile.age", "ne", "34", True),
    ("geo.country", "ne", "US", True),
    ("device.type", "ne", "mobile", False),
    ("time.day_of_week", "ne", "Sunday", True),
    # in / not_in, including list attributes (any element) and kind-strict membership
    ("profile.plan", "in", ["silver", "gold"], True),
    ("profile.plan", "in", ["silver"], False),
    ("profile.age", "in", [33, 34.0], True),
    ("profile.age", "in", ["34"], False),
    ("profile.vip", "in", [1, "true"], False),
    ("profile.vip", "in", [True], True),
    ("profile.tags", "in", ["vip", "early"], True),
    ("profile.tags", "in", ["vip", "7"], False),
    ("profile.tags", "in", [7], True),
    ("computed.count.purchase", "in", [1, 2, 3], True),
    ("session.utm_medium", "in", ["sms", "push"], False),
    ("time.day_of_week", "in", ["Saturday", "Sunday"], True),
    ("time.hour", "in", ["08", "09", "10"], True),
    ("geo.country", "in", ["DE", "FR"], True),
    ("device.type", "in", ["tablet", "desktop"], False),
    ("device.browser", "in", ["Mobile Safari", "Chrome Mobile"], True),
    ("profile.plan", "not_in", ["silver", "gold"], False),
    ("profile.plan", "not_in", ["silver"], True),
    ("profile.tags", "not_in", ["early"], False),
    ("geo.country", "not_in", ["US", "CA"], True),
    ("device.type", "not_in", ["mobile"], False),
    # gt / gte / lt / lte: numbers with numbers, strings with strings
    ("profile.age", "gt", 30, True),
    ("profile.age", "gt", 34, False),
    ("profile.age", "gte", 34, True),
    ("profile.age", "lt", 34.5, True),
    ("profile.age", "lte", 33, False),
    ("profile.score", "gte", 4.5, True),
    ("profile.score", "gte", 4.51, False),
    ("profile.age", "gte", "30", False),
    ("profile.age", "gt", "3", False),
    ("profile.plan", "gt", 3, False),
    ("profile.vip", "gt", 0, False),
    ("profile.tags", "gt", "a", False),
    ("profile.signup_date", "gte", "2024-01-01", True),
    ("profile.signup_date", "lt", "2024-03-15", False),
    ("profile.signup_date", "lte", "2024-03-15", True),
    ("profile.plan", "gt", "alpha", True),
    ("computed.first_seen", "lt", 1_700_000_001, True),
    ("computed.last_seen", "gt", 1_717_000_000, False),
    ("computed.event_count", "gte", 10, True),
    ("computed.count.purchase", "lt", 3, False),
    ("computed.category.conversion", "gt", 4, True),
    ("computed.locale", "gte", "fr", True),
    ("session.page_views", "gte", 3, True),
    ("session.utm_medium", "lt", "f", True),
    ("session.utm_medium", "gt", 1, False),
    ("time.hour", "gte", "09", True),
    ("time.hour", "lt", "09", False),
    ("time.hour", "lte", "12", True),
    ("geo.city", "gt", "A", True),
    ("device.os", "lt", "A", False),
    # contains: substrings of strings, members of lists
    ("profile.plan", "contains", "ol", True),
    ("profile.plan", "contains", "xx", False),
    ("profile.tags", "contains", "beta", True),
    ("profile.tags", "contains", "bet", False),
    ("profile.tags", "contains", 7, True),
    ("profile.tags", "contains", "7", False),
    ("profile.plan", "contains", 1, False),
    ("profile.age", "contains", "3", False),
    ("computed.timezone", "contains", "Paris", True),
    ("session.utm_medium", "contains", "mai", True),
    ("time.day_of_week", "contains", "day", True),
    ("geo.country_name", "contains", "ranc", True),
    ("device.browser", "contains", "Safari", True),
    ("device.os", "contains", "Android", False),
    # matches: RE2 search; only strings match
    ("profile.plan", "matches", "^go", True),
    ("profile.plan", "matches", "^ol", False),
    ("profile.plan", "matches", "(?i)^GOLD$", True),
    ("profile.age", "matches", "3", False),
    ("profile.tags", "matches", "beta", False),
    ("computed.locale", "matches", "^fr-", True),
    ("session.utm_medium", "matches", "^(email|sms)$", True),
    ("time.day_of_week", "matches", "^S", True),
    ("time.hour", "matches", "^1", False),
    ("geo.city", "matches", "^Par", True),
    ("device.browser", "matches", "Chrome", False),
    # exists
    ("profile.plan", "exists", True, True),
    ("profile.plan", "exists", False, False),
    ("computed.first_seen", "exists", True, True),
    ("session.utm_medium", "exists", False, False),
    ("time.hour", "exists", True, True),
    ("geo.country", "exists", True, True),
    ("device.type", "exists", True, True),
]


@pytest.mark.parametrize(("attribute", "op", "value", "expected"), OPERATOR_CASES)
def test_operator(attribute: str, op: str, value: object, expected: bool) -> None:
    assert check(cmp(attribute, op, value)) is expected


def test_every_operator_and_namespace_is_covered() -> None:
    ops = {op for _, op, _, _ in OPERATOR_CASES}
    assert ops == {
        "eq",
        "ne",
        "in",
        "not_in",
        "gt",
        "gte",
        "lt",
        "lte",
        "contains",
        "matches",
        "exists",
    }
    namespaces = {a.split(".")[0] for a, _, _, _ in OPERATOR_CASES}
    assert namespaces == {"profile", "computed", "session", "time", "geo", "device"}
    # every operator has a true and a false case
    for op in ops:
        outcomes = {e for _, o, _, e in OPERATOR_CASES if o == op}
        assert outcomes == {True, False}, op


def test_exists_defaults_to_true() -> None:
    assert check({"attribute": "profile.plan", "op": "exists"}) is True
    assert check({"attribute": "profile.nickname", "op": "exists"}) is False
    assert dump_rule(parse_rule({"attribute": "profile.plan", "op": "exists"}))["value"] is True


# --- missing values ---------------------------------------------------------------------

MISSING_CASES = [
    ("eq", "x", False),
    ("ne", "x", True),
    ("in", ["x"], False),
    ("not_in", ["x"], True),
    ("gt", 1, False),
    ("gte", "a", False),
    ("lt", 1, False),
    ("lte", "z", False),
    ("contains", "x", False),
    ("matches", ".*", False),
    ("exists", True, False),
    ("exists", False, True),
]


@pytest.mark.parametrize(("op", "value", "expected"), MISSING_CASES)
@pytest.mark.parametrize(
    "attribute",
    ["profile.nickname", "profile.nothing", "profile.address.zip", "session.utm_source"],
)
def test_missing_attribute(attribute: str, op: str, value: object, expected: bool) -> None:
    """Missing (or null) is false for everything but the negations: ne, not_in and
    exists: false, so ``ne`` always equals ``not eq``."""
    assert check(cmp(attribute, op, value)) is expected


@pytest.mark.parametrize(
    "attribute", ["geo.country", "geo.city", "device.type", "device.os", "time.hour"]
)
def test_missing_derived_attributes(attribute: str) -> None:
    values = {k: v for k, v in VALUES.items() if k != attribute}
    assert check(cmp(attribute, "exists", True), values) is False
    assert check(cmp(attribute, "exists", False), values) is True
    sample = "09" if attribute == "time.hour" else "mobile" if attribute == "device.type" else "X"
    assert check(cmp(attribute, "eq", sample), values) is False
    assert check(cmp(attribute, "ne", sample), values) is True
    assert check(cmp(attribute, "in", [sample]), values) is False
    assert check(cmp(attribute, "not_in", [sample]), values) is True


@pytest.mark.parametrize(
    "rule",
    [
        cmp("profile.nickname", "eq", "x"),
        cmp("profile.nickname", "in", ["x"]),
        cmp("profile.age", "eq", "34"),
        cmp("profile.age", "in", ["34"]),
        cmp("profile.plan", "gt", 3),
    ],
)
def test_negation_agrees_with_not(rule: dict[str, object]) -> None:
    negated = dict(rule, op={"eq": "ne", "in": "not_in"}.get(str(rule["op"]), rule["op"]))
    assert check({"not": rule}) is (not check(rule))
    if negated["op"] != rule["op"]:
        assert check(negated) is check({"not": rule})


# --- nesting ----------------------------------------------------------------------------


def test_all_any_not() -> None:
    gold = cmp("profile.plan", "eq", "gold")
    silver = cmp("profile.plan", "eq", "silver")
    email = cmp("session.utm_medium", "eq", "email")
    assert check({"all": [gold, email]}) is True
    assert check({"all": [gold, silver]}) is False
    assert check({"any": [silver, email]}) is True
    assert check({"any": [silver, {"not": email}]}) is False
    assert check({"not": {"not": gold}}) is True
    assert check({"all": [{"any": [silver, gold]}, {"not": {"all": [silver, email]}}]}) is True
    assert check({"any": [{"all": [silver, email]}, {"all": [gold, {"not": email}]}]}) is False


def test_short_circuit() -> None:
    rule = parse_rule(
        {
            "any": [
                cmp("profile.plan", "eq", "gold"),
                cmp("geo.country", "eq", "FR"),
                {"event": "purchase"},
            ]
        }
    )
    subject = DictSubject(VALUES)
    assert evaluate(rule, subject) is True
    assert subject.asked == ["profile.plan"]
    assert subject.counted == []

    rule = parse_rule(
        {"all": [cmp("profile.plan", "eq", "silver"), cmp("device.type", "eq", "mobile")]}
    )
    subject = DictSubject(VALUES)
    assert evaluate(rule, subject) is False
    assert subject.asked == ["profile.plan"]


# --- event occurrence ---------------------------------------------------------------------

EVENTS = [
    ("purchase", NOW - 2 * DAY),
    ("purchase", NOW - 10 * DAY),
    ("purchase", NOW - 40 * DAY),
    ("Product Viewed", NOW - 1 * DAY),
    ("Product Added", NOW - 3 * DAY),
    ("app_open", NOW - 100 * DAY),
]


def check_events(rule: object, events: list[tuple[str, float]] = EVENTS) -> bool:
    return evaluate(parse_rule(rule), DictSubject(VALUES, events))


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"event": "purchase"}, True),
        ({"event": "refund"}, False),
        ({"event": "purchase", "min_count": 3}, True),
        ({"event": "purchase", "min_count": 4}, False),
        ({"event": "purchase", "within_days": 30}, True),
        ({"event": "purchase", "min_count": 2, "within_days": 30}, True),
        ({"event": "purchase", "min_count": 3, "within_days": 30}, False),
        ({"event": "purchase", "min_count": 1, "within_days": 1}, False),
        ({"event": "purchase", "within_days": 2.5}, True),
        ({"event": "app_open", "within_days": 90}, False),
        ({"event": "app_open"}, True),
        ({"event": "Product *", "min_count": 2, "within_days": 7}, True),
        ({"event": "Product *", "min_count": 2, "within_days": 2}, False),
        ({"event": "product *"}, False),  # event names are case-sensitive
        ({"event": "Product ?iewed"}, True),
        ({"event": "purchase", "max_count": 3}, True),
        ({"event": "purchase", "max_count": 2}, False),
        ({"event": "purchase", "max_count": 1, "within_days": 7}, True),
        ({"event": "purchase", "min_count": 2, "max_count": 2, "within_days": 30}, True),
        ({"event": "refund", "max_count": 0}, True),  # "never did"
        ({"event": "purchase", "max_count": 0}, False),
        ({"not": {"event": "refund"}}, True),
    ],
)
def test_event_occurrence(rule: dict[str, object], expected: bool) -> None:
    assert check_events(rule) is expected


def test_event_window_is_counted_from_the_subjects_clock() -> None:
    rule = parse_rule({"event": "purchase", "within_days": 30})
    subject = DictSubject(VALUES, EVENTS)
    evaluate(rule, subject)
    assert subject.counted == [("purchase", NOW - 30 * DAY)]
    subject = DictSubject(VALUES, EVENTS)
    evaluate(parse_rule({"event": "purchase"}), subject)
    assert subject.counted == [("purchase", None)]


def test_event_defaults() -> None:
    assert parse_rule({"event": "x"}) == EventCondition("x", 1, None, None)
    # "at most" alone starts from zero: never having done it is at most N times
    assert parse_rule({"event": "x", "max_count": 2}) == EventCondition("x", 0, 2, None)


# --- introspection and round trip -------------------------------------------------------------

SAMPLE = {
    "all": [
        {"attribute": "profile.plan", "op": "in", "value": ["gold", "platinum"]},
        {
            "any": [
                {"attribute": "geo.country", "op": "eq", "value": "FR"},
                {"not": {"attribute": "device.type", "op": "eq", "value": "bot"}},
            ]
        },
        {"event": "purchase", "min_count": 2, "within_days": 30},
        {"event": "Product *", "within_days": 7},
        {"not": {"event": "purchase", "min_count": 2, "within_days": 30}},
        {"attribute": "profile.plan", "op": "ne", "value": "trial"},
    ]
}


def test_attributes_and_event_conditions() -> None:
    rule = parse_rule(SAMPLE)
    assert attributes(rule) == {"profile.plan", "geo.country", "device.type"}
    assert event_conditions(rule) == [
        EventCondition("purchase", 2, None, 30),
        EventCondition("Product *", 1, None, 7),
    ]
    assert attributes(parse_rule({"event": "x"})) == set()


def test_parsed_tree_shape() -> None:
    rule = parse_rule(SAMPLE)
    assert isinstance(rule, AllOf)
    assert isinstance(rule.rules[1], AnyOf)
    assert isinstance(rule.rules[1].rules[1], Not)
    first = rule.rules[0]
    assert isinstance(first, Comparison)
    assert (first.attribute, first.op, first.value) == ("profile.plan", "in", ("gold", "platinum"))


def test_dump_round_trip() -> None:
    rule = parse_rule(SAMPLE)
    dumped = dump_rule(rule)
    assert parse_rule(dumped) == rule
    assert dumped["all"][0] == {  # type: ignore[index]
        "attribute": "profile.plan",
        "op": "in",
        "value": ["gold", "platinum"],
    }
    assert dumped["all"][2] == {"event": "purchase", "min_count": 2, "within_days": 30}  # type: ignore[index]


# --- regular expressions ----------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["(a+)+$", "(a|aa)*b", "(.*a){12}", "^(\\w+\\s?)*$"])
def test_redos_prone_patterns_are_safe(pattern: str) -> None:
    """Patterns that backtrack catastrophically in ``re`` run in linear time on RE2: a
    backtracking engine would not finish this test."""
    rule = parse_rule(cmp("session.q", "matches", pattern))
    hostile = "a" * 20_000 + "!"
    assert evaluate(rule, DictSubject({"session.q": hostile})) in (True, False)
    assert evaluate(rule, DictSubject({"session.q": "aab"})) in (True, False)


# --- validation errors ------------------------------------------------------------------------

OK = {"attribute": "profile.plan", "op": "eq", "value": "gold"}

ERROR_CASES: list[tuple[object, list[str | int], str]] = [
    # shapes
    ("gold", [], "a rule is an object with one of: all, any, not, attribute, event"),
    ([OK], [], "got a list"),
    ({}, [], "exactly one of: all, any, not, attribute, event"),
    ({"and": [OK]}, [], "got and"),
    ({"all": [OK], "any": [OK]}, [], "got all, any"),
    ({"all": [OK], "note": "x"}, ["note"], "unknown field 'note'; expected one of: all"),
    ({"all": []}, ["all"], "at least one rule"),
    ({"any": []}, ["any"], "at least one rule"),
    ({"all": OK}, ["all"], "expected a list of rules; got an object"),
    ({"all": [OK] * 51}, ["all"], "at most 50 rules"),
    ({"not": [OK]}, ["not"], "got a list"),
    ({"all": [OK, OK, 3]}, ["all", 2], "got a number"),
    # ops
    (
        {"all": [OK, OK, {"attribute": "profile.x", "op": "equals", "value": 1}]},
        ["all", 2, "op"],
        "unknown op 'equals'; expected one of: eq, ne, in, not_in, gt, gte, lt, lte, "
        "contains, exists, matches",
    ),
    ({"attribute": "profile.x", "value": 1}, ["op"], "missing op; expected one of: eq"),
    ({"attribute": "profile.x", "op": "eq"}, ["value"], "missing value for op eq"),
    (
        {"attribute": "profile.x", "op": "eq", "value": 1, "values": [2]},
        ["values"],
        "unknown field 'values'; expected one of: attribute, op, value",
    ),
    # attribute paths
    (
        {"any": [{"attribute": "user.plan", "op": "eq", "value": "x"}]},
        ["any", 0, "attribute"],
        "unknown attribute namespace 'user'; expected one of: profile, computed, session, "
        "time, geo, device",
    ),
    ({"attribute": "plan", "op": "eq", "value": "x"}, ["attribute"], "namespace 'plan'"),
    ({"attribute": "profile", "op": "eq", "value": "x"}, ["attribute"], "profile.<name>"),
    ({"attribute": "profile.", "op": "eq", "value": "x"}, ["attribute"], "profile.<name>"),
    ({"attribute": "profile.a..b", "op": "eq", "value": "x"}, ["attribute"], "empty segment"),
    ({"attribute": 5, "op": "eq", "value": "x"}, ["attribute"], "expected a string"),
    ({"attribute": "profile." + "x" * 300, "op": "exists"}, ["attribute"], "at most 255"),
    (
        {"attribute": "computed.visits", "op": "gt", "value": 1},
        ["attribute"],
        "unknown attribute 'computed.visits'; expected computed. followed by one of: "
        "first_seen, last_seen, event_count, timezone, locale, count.<event name>, "
        "category.<category>",
    ),
    ({"attribute": "computed.count.", "op": "gt", "value": 1}, ["attribute"], "count.<event"),
    (
        {"attribute": "computed.category.sales", "op": "gt", "value": 1},
        ["attribute"],
        "unknown category 'sales'; expected one of: conversion, messaging, intent, discovery",
    ),
    ({"attribute": "time.minute", "op": "eq", "value": "x"}, ["attribute"], "day_of_week, hour"),
    ({"attribute": "geo.zip", "op": "eq", "value": "x"}, ["attribute"], "country, country_name"),
    ({"attribute": "device.model", "op": "eq", "value": "x"}, ["attribute"], "type, os, browser"),
    # value types
    ({"attribute": "profile.x", "op": "eq", "value": None}, ["value"], "use op exists"),
    ({"attribute": "profile.x", "op": "eq", "value": [1]}, ["value"], "got a list"),
    ({"attribute": "profile.x", "op": "ne", "value": {"a": 1}}, ["value"], "got an object"),
    ({"attribute": "profile.x", "op": "in", "value": "gold"}, ["value"], "in takes a list"),
    ({"attribute": "profile.x", "op": "not_in", "value": 3}, ["value"], "not_in takes a list"),
    ({"attribute": "profile.x", "op": "in", "value": []}, ["value"], "at least one value"),
    ({"attribute": "profile.x", "op": "in", "value": ["a", None]}, ["value", 1], "got null"),
    ({"attribute": "profile.x", "op": "in", "value": ["a", ["b"]]}, ["value", 1], "got a list"),
    (
        {"attribute": "profile.x", "op": "in", "value": list(range(1001))},
        ["value"],
        "at most 1000 values",
    ),
    ({"attribute": "profile.x", "op": "gt", "value": True}, ["value"], "number or a string"),
    ({"attribute": "profile.x", "op": "lte", "value": [1]}, ["value"], "number or a string"),
    ({"attribute": "profile.x", "op": "gte", "value": None}, ["value"], "got null"),
    ({"attribute": "profile.x", "op": "gt", "value": float("nan")}, ["value"], "finite"),
    ({"attribute": "profile.x", "op": "exists", "value": "yes"}, ["value"], "true or false"),
    ({"attribute": "profile.x", "op": "exists", "value": 1}, ["value"], "got a number"),
    ({"attribute": "profile.x", "op": "contains", "value": ["a"]}, ["value"], "got a list"),
    ({"attribute": "profile.x", "op": "eq", "value": "x" * 1001}, ["value"], "1000 characters"),
    # known attribute types and closed sets
    (
        {"attribute": "computed.event_count", "op": "gt", "value": "10"},
        ["value"],
        "computed.event_count is a number; got a string",
    ),
    (
        {"attribute": "computed.count.purchase", "op": "in", "value": [1, "2"]},
        ["value", 1],
        "is a number; got a string",
    ),
    (
        {"attribute": "computed.event_count", "op": "contains", "value": 1},
        ["op"],
        "contains applies to strings and lists; computed.event_count is a number",
    ),
    (
        {"attribute": "computed.first_seen", "op": "matches", "value": "1"},
        ["op"],
        "is a number",
    ),
    ({"attribute": "geo.country", "op": "eq", "value": 1}, ["value"], "geo.country is a string"),
    ({"attribute": "device.os", "op": "contains", "value": 1}, ["value"], "is a string"),
    (
        {"attribute": "time.day_of_week", "op": "eq", "value": "monday"},
        ["value"],
        "time.day_of_week is one of: Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, "
        "Sunday; got 'monday'",
    ),
    (
        {"attribute": "time.day_of_week", "op": "in", "value": ["Monday", "Sun"]},
        ["value", 1],
        "got 'Sun'",
    ),
    ({"attribute": "time.day_of_week", "op": "gt", "value": "Monday"}, ["op"], "not ordered"),
    ({"attribute": "time.hour", "op": "gte", "value": "9"}, ["value"], "got '9'"),
    ({"attribute": "time.hour", "op": "eq", "value": 9}, ["value"], "time.hour is a string"),
    ({"attribute": "device.type", "op": "eq", "value": "phone"}, ["value"], "mobile, tablet"),
    ({"attribute": "device.type", "op": "lt", "value": "mobile"}, ["op"], "not ordered"),
    # regular expressions
    ({"attribute": "profile.x", "op": "matches", "value": "(a"}, ["value"], "missing )"),
    ({"attribute": "profile.x", "op": "matches", "value": "[z-a]"}, ["value"], "invalid"),
    ({"attribute": "profile.x", "op": "matches", "value": "(?<=a)b"}, ["value"], "look-around"),
    ({"attribute": "profile.x", "op": "matches", "value": r"(a)\1"}, ["value"], "invalid"),
    ({"attribute": "profile.x", "op": "matches", "value": 3}, ["value"], "regular expression"),
    ({"attribute": "profile.x", "op": "matches", "value": "a" * 1001}, ["value"], "at most 1000"),
    # events
    ({"event": ""}, ["event"], "non-empty string"),
    ({"event": 3}, ["event"], "non-empty string"),
    ({"event": "x" * 201}, ["event"], "at most 200"),
    ({"event": "x", "min_count": 0}, ["min_count"], "from 1 to"),
    ({"event": "x", "min_count": 1.5}, ["min_count"], "expected an integer; got a number"),
    ({"event": "x", "min_count": True}, ["min_count"], "got a boolean"),
    ({"event": "x", "max_count": -1}, ["max_count"], "from 0 to"),
    ({"event": "x", "min_count": 3, "max_count": 2}, ["min_count"], "must not exceed"),
    ({"event": "x", "within_days": 0}, ["within_days"], "more than 0"),
    ({"event": "x", "within_days": 4000}, ["within_days"], "at most 3650"),
    ({"event": "x", "within_days": "7"}, ["within_days"], "expected a number; got a string"),
    ({"event": "x", "within_days": True}, ["within_days"], "expected a number; got a boolean"),
    ({"event": "x", "since": 7}, ["since"], "expected one of: event, min_count, max_count"),
    (
        {"all": [OK, {"not": {"event": "x", "min_count": 0}}]},
        ["all", 1, "not", "min_count"],
        "from 1 to",
    ),
]


@pytest.mark.parametrize(("rule", "loc", "message"), ERROR_CASES)
def test_validation_error(rule: object, loc: list[str | int], message: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule(rule)
    assert caught.value.loc == loc
    assert message in caught.value.msg


def _nested_not(levels: int) -> dict[str, Any]:
    rule: dict[str, Any] = OK
    for _ in range(levels - 1):
        rule = {"not": rule}
    return rule


def test_depth_limit() -> None:
    assert check(_nested_not(8)) is False  # 7 nots around a true comparison
    with pytest.raises(RuleError) as caught:
        parse_rule(_nested_not(9))
    assert caught.value.loc == ["not"] * 8
    assert "at most 8 levels" in caught.value.msg

    deep_all: dict[str, Any] = OK
    for _ in range(8):
        deep_all = {"all": [OK, deep_all]}
    with pytest.raises(RuleError) as caught:
        parse_rule(deep_all)
    # the eighth ``all`` is at depth 8; its first child would be at depth 9
    assert caught.value.loc == [*(["all", 1] * 7), "all", 0]


def test_node_limit() -> None:
    # 1 + 4 * (1 + 49) = 201 nodes; with 3 groups (151 nodes) it is accepted
    group = {"any": [OK] * 49}
    assert check({"all": [group] * 3}) is True
    with pytest.raises(RuleError) as caught:
        parse_rule({"all": [group] * 4})
    assert caught.value.loc == ["all", 3, "any", 48]
    assert "at most 200 nodes" in caught.value.msg


def test_limits_are_inclusive() -> None:
    assert check({"all": [OK] * 50}) is True
    assert check(cmp("profile.plan", "in", [str(i) for i in range(999)] + ["gold"])) is True
    assert check({"event": "x", "within_days": 3650}) is False
    assert check(cmp("profile.plan", "matches", "g" + "o?" * 499)) is True


def test_rule_error_is_a_value_error_with_a_readable_message() -> None:
    with pytest.raises(ValueError, match=r"all\.0\.op: unknown op 'is'"):
        parse_rule({"all": [{"attribute": "profile.x", "op": "is", "value": 1}]})
