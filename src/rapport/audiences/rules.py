"""Audience rules: a declarative JSON tree, validated once at save time and evaluated
per request.

Rules are data, never code: there is no ``eval`` and no expression language, only a
fixed set of node shapes and operators, so a rule cannot do anything but answer yes or
no, and its cost is bounded by the limits below (depth, node count, list sizes; regular
expressions run on RE2, whose matching time is linear in the input).

Grammar (JSON)::

    rule       := all | any | not | comparison | event
    all        := {"all": [rule, ...]}              1..50 children
    any        := {"any": [rule, ...]}              1..50 children
    not        := {"not": rule}
    comparison := {"attribute": path, "op": op, "value": json}
    event      := {"event": name-or-glob, "min_count": int, "max_count": int,
                   "within_days": number}

Parsing builds frozen nodes whose comparisons carry a precompiled check, so evaluating
a typical audience costs a few microseconds.

Missing values: an attribute the subject does not have (or whose value is ``null``)
makes every comparison false, except the three that are negations: ``ne`` and
``not_in`` are true (like SQL's ``IS DISTINCT FROM``: "country is not US" includes
people whose country is unknown) and ``exists: false`` is true. In general ``ne`` is
exactly ``not eq`` and ``not_in`` exactly ``not in``, so ``{"not": {... "eq" ...}}`` and
``"ne"`` always agree.

Types are strict: a string never equals a number and ``true`` never equals ``1``; a
comparison between mismatched types is simply false (so its ``ne`` is true), never an
error. Where the attribute's type is known in advance (computed counts, time, geo,
device), a mismatched value is rejected at save time instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol, TypeAlias, cast, get_args

import re2

from rapport.workspaces.schemas import Category

MAX_DEPTH: Final = 8
MAX_NODES: Final = 200
MAX_CHILDREN: Final = 50
MAX_LIST: Final = 1000
MAX_STRING: Final = 1000
MAX_PATH: Final = 255
MAX_PATTERN: Final = 1000
MAX_WITHIN_DAYS: Final = 3650
MAX_COUNT: Final = 1_000_000_000

Op = Literal["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "exists", "matches"]
OPS: Final[tuple[str, ...]] = get_args(Op)
NAMESPACES: Final = ("profile", "computed", "session", "time", "geo", "device")
CATEGORIES: Final[tuple[str, ...]] = get_args(Category)
DAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
HOURS: Final = tuple(f"{h:02d}" for h in range(24))
DEVICE_TYPES: Final = ("mobile", "tablet", "desktop", "bot", "other")

_NODE_KEYS: Final = ("all", "any", "not", "attribute", "event")
_COMPARISON_KEYS: Final = ("attribute", "op", "value")
_EVENT_KEYS: Final = ("event", "min_count", "max_count", "within_days")
_ORDERING: Final = frozenset({"gt", "gte", "lt", "lte"})

# Attributes under fixed names, with the type of their values ("number" or "string").
_FIXED: Final[dict[str, str]] = {
    "computed.first_seen": "number",
    "computed.last_seen": "number",
    "computed.event_count": "number",
    "computed.timezone": "string",
    "computed.locale": "string",
    "time.day_of_week": "string",
    "time.hour": "string",
    "geo.country": "string",
    "geo.country_name": "string",
    "geo.region": "string",
    "geo.region_name": "string",
    "geo.city": "string",
    "device.type": "string",
    "device.os": "string",
    "device.browser": "string",
}
# Attributes whose values come from a closed set: typos are caught at save time.
_ENUMS: Final[dict[str, tuple[str, ...]]] = {
    "time.day_of_week": DAYS,
    "time.hour": HOURS,
    "device.type": DEVICE_TYPES,
}

Scalar: TypeAlias = str | int | float | bool
Value: TypeAlias = Scalar | tuple[Scalar, ...]
Check: TypeAlias = Callable[[object], bool]


class _Missing:
    """The value of an attribute the subject does not have."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()


class RuleError(ValueError):
    """An invalid rule; ``loc`` is the path to the offending part inside the rule."""

    def __init__(self, loc: list[str | int], msg: str) -> None:
        super().__init__(f"{'.'.join(map(str, loc)) or '<root>'}: {msg}")
        self.loc = loc
        self.msg = msg


class Subject(Protocol):
    """Who a rule is evaluated for: attribute values, event counts and the clock."""

    @property
    def now(self) -> float:
        """Epoch seconds that ``within_days`` windows end at."""
        ...

    def value(self, path: str) -> object:
        """The attribute's value, or ``MISSING``."""
        ...

    def event_count(self, pattern: str, since: float | None) -> int:
        """How many events matching ``pattern`` (a name or a glob) happened at or after
        ``since`` (epoch seconds; None: ever)."""
        ...


# --- nodes ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AllOf:
    rules: tuple[Rule, ...]

    def test(self, subject: Subject) -> bool:
        return all(rule.test(subject) for rule in self.rules)


@dataclass(frozen=True, slots=True)
class AnyOf:
    rules: tuple[Rule, ...]

    def test(self, subject: Subject) -> bool:
        return any(rule.test(subject) for rule in self.rules)


@dataclass(frozen=True, slots=True)
class Not:
    rule: Rule

    def test(self, subject: Subject) -> bool:
        return not self.rule.test(subject)


@dataclass(frozen=True, slots=True)
class Comparison:
    attribute: str
    op: Op
    # ``in``/``not_in`` lists are stored as tuples so nodes stay hashable.
    value: Value
    check: Check = field(compare=False, repr=False)

    def test(self, subject: Subject) -> bool:
        value = subject.value(self.attribute)
        return self.check(MISSING if value is None else value)


@dataclass(frozen=True, slots=True)
class EventCondition:
    """The subject did ``event`` (a name or a ``*``/``?``/``[]`` glob) between
    ``min_count`` and ``max_count`` times, in the last ``within_days`` days or ever."""

    event: str
    min_count: int = 1
    max_count: int | None = None
    within_days: float | None = None

    def since(self, now: float) -> float | None:
        """Where the window starts for a subject whose clock reads ``now``."""
        return None if self.within_days is None else now - self.within_days * 86400.0

    def test(self, subject: Subject) -> bool:
        count = subject.event_count(self.event, self.since(subject.now))
        return count >= self.min_count and (self.max_count is None or count <= self.max_count)


Rule: TypeAlias = AllOf | AnyOf | Not | Comparison | EventCondition


def evaluate(rule: Rule, subject: Subject) -> bool:
    """Whether ``subject`` is in the audience; ``all``/``any`` stop at the first answer."""
    return rule.test(subject)


def walk(rule: Rule) -> Iterator[Rule]:
    """Every node of the tree, depth first, in document order."""
    yield rule
    if isinstance(rule, AllOf | AnyOf):
        for child in rule.rules:
            yield from walk(child)
    elif isinstance(rule, Not):
        yield from walk(rule.rule)


def event_conditions(rule: Rule) -> list[EventCondition]:
    """The distinct event conditions, in order: a caller can count them all in one query
    before evaluating."""
    return list(dict.fromkeys(n for n in walk(rule) if isinstance(n, EventCondition)))


def attributes(rule: Rule) -> set[str]:
    """The attribute paths the rule reads: a caller can skip loading what is not used
    (the profile, geo lookups, user-agent parsing)."""
    return {n.attribute for n in walk(rule) if isinstance(n, Comparison)}


def dump_rule(rule: Rule) -> dict[str, object]:
    """The canonical JSON form (defaults spelled out), which ``parse_rule`` accepts."""
    if isinstance(rule, AllOf):
        return {"all": [dump_rule(r) for r in rule.rules]}
    if isinstance(rule, AnyOf):
        return {"any": [dump_rule(r) for r in rule.rules]}
    if isinstance(rule, Not):
        return {"not": dump_rule(rule.rule)}
    if isinstance(rule, Comparison):
        value = list(rule.value) if isinstance(rule.value, tuple) else rule.value
        return {"attribute": rule.attribute, "op": rule.op, "value": value}
    out: dict[str, object] = {"event": rule.event, "min_count": rule.min_count}
    if rule.max_count is not None:
        out["max_count"] = rule.max_count
    if rule.within_days is not None:
        out["within_days"] = rule.within_days
    return out


# --- checks: one closure per comparison, built at parse time -------------------------
# Kinds are compared with ``type(v) is ...`` rather than isinstance: JSON values are
# exactly str/int/float/bool/list/dict, and bool must not pass for a number.


def _is_number(v: object) -> bool:
    t = type(v)
    return t is int or t is float


def _kind_eq(expected: Scalar) -> Check:
    if type(expected) is str:
        return lambda v: type(v) is str and v == expected
    if type(expected) is bool:
        return lambda v: type(v) is bool and v == expected
    return lambda v: _is_number(v) and v == expected


class _ScalarSet:
    """Membership in a list of scalars without letting ``True`` match ``1``."""

    __slots__ = ("bools", "numbers", "strings")

    def __init__(self, items: tuple[Scalar, ...]) -> None:
        self.strings = frozenset(i for i in items if type(i) is str)
        self.bools = frozenset(i for i in items if type(i) is bool)
        self.numbers = frozenset(i for i in items if type(i) is int or type(i) is float)

    def __contains__(self, v: object) -> bool:
        t = type(v)
        if t is str:
            return v in self.strings
        if t is bool:
            return v in self.bools
        if t is int or t is float:
            return v in self.numbers
        return False


def _in(items: tuple[Scalar, ...]) -> Check:
    members = _ScalarSet(items)

    def check(v: object) -> bool:
        # A list attribute (tags, say) is in the set when any of its elements is.
        if type(v) is list:
            return any(x in members for x in v)
        return v in members

    return check


def _ordering(op: str, expected: str | int | float) -> Check:
    same: Check = (lambda v: type(v) is str) if type(expected) is str else _is_number
    if op == "gt":
        return lambda v: same(v) and v > expected  # type: ignore[operator]
    if op == "gte":
        return lambda v: same(v) and v >= expected  # type: ignore[operator]
    if op == "lt":
        return lambda v: same(v) and v < expected  # type: ignore[operator]
    return lambda v: same(v) and v <= expected  # type: ignore[operator]


def _contains(expected: Scalar) -> Check:
    eq = _kind_eq(expected)
    if type(expected) is str:
        return lambda v: (
            (expected in v) if type(v) is str else (type(v) is list and any(map(eq, v)))
        )
    return lambda v: type(v) is list and any(map(eq, v))


def _negate(check: Check) -> Check:
    return lambda v: not check(v)


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # invalid patterns are reported to the client instead
_RE2_OPTIONS.never_capture = True  # only yes/no is needed; smaller programs
_RE2_OPTIONS.max_mem = 1 << 20  # bounds each compiled pattern (1 MiB)


def _compile(pattern: str) -> Callable[[str], object]:
    """RE2, not ``re``: RE2 guarantees matching time linear in the input, so a pattern
    such as ``(a+)+$`` cannot be used for catastrophic backtracking (ReDoS). The price is
    that look-around and back-references are not supported."""
    search: Callable[[str], object] = re2.compile(pattern, _RE2_OPTIONS).search
    return search


def _matches(pattern: str) -> Check:
    search = _compile(pattern)
    return lambda v: type(v) is str and search(v) is not None


# --- parsing -------------------------------------------------------------------------


class _Budget:
    __slots__ = ("nodes",)

    def __init__(self) -> None:
        self.nodes = 0


def parse_rule(data: object) -> Rule:
    """Validate a decoded JSON rule and build its tree; raises ``RuleError``."""
    return _parse(data, [], 1, _Budget())


def _choices(items: tuple[str, ...] | list[str]) -> str:
    return ", ".join(items)


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if type(value) is bool:
        return "a boolean"
    if _is_number(value):
        return "a number"
    if type(value) is str:
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _parse(data: object, loc: list[str | int], depth: int, budget: _Budget) -> Rule:
    if not isinstance(data, dict):
        raise RuleError(
            loc, f"a rule is an object with one of: {_choices(_NODE_KEYS)}; got {_describe(data)}"
        )
    budget.nodes += 1
    if budget.nodes > MAX_NODES:
        raise RuleError(loc, f"a rule may have at most {MAX_NODES} nodes")
    if depth > MAX_DEPTH:
        raise RuleError(loc, f"rules may nest at most {MAX_DEPTH} levels deep")
    kinds = [k for k in _NODE_KEYS if k in data]
    if len(kinds) != 1:
        found = f"got {_choices(kinds)}" if kinds else f"got {_choices(sorted(map(str, data)))}"
        raise RuleError(loc, f"a rule has exactly one of: {_choices(_NODE_KEYS)}; {found}")
    kind = kinds[0]
    if kind in ("all", "any", "not"):
        _only(data, (kind,), loc)
        if kind == "not":
            return Not(_parse(data["not"], [*loc, "not"], depth + 1, budget))
        children = data[kind]
        if not isinstance(children, list):
            raise RuleError([*loc, kind], f"expected a list of rules; got {_describe(children)}")
        if not children:
            raise RuleError([*loc, kind], "expected at least one rule")
        if len(children) > MAX_CHILDREN:
            raise RuleError([*loc, kind], f"expected at most {MAX_CHILDREN} rules")
        rules = tuple(
            _parse(child, [*loc, kind, i], depth + 1, budget) for i, child in enumerate(children)
        )
        return AllOf(rules) if kind == "all" else AnyOf(rules)
    if kind == "event":
        _only(data, _EVENT_KEYS, loc)
        return _parse_event(data, loc)
    _only(data, _COMPARISON_KEYS, loc)
    return _parse_comparison(data, loc)


def _only(data: dict[object, object], allowed: tuple[str, ...], loc: list[str | int]) -> None:
    for key in data:
        if key not in allowed:
            name = key if isinstance(key, str) else repr(key)
            raise RuleError(
                [*loc, name], f"unknown field {name!r}; expected one of: {_choices(allowed)}"
            )


def _parse_event(data: dict[object, object], loc: list[str | int]) -> EventCondition:
    event = data["event"]
    if type(event) is not str or not event:
        raise RuleError([*loc, "event"], "expected an event name or glob (a non-empty string)")
    if len(event) > 200:
        raise RuleError([*loc, "event"], "expected at most 200 characters")
    max_count = _count(data, "max_count", loc, minimum=0)
    min_count = _count(data, "min_count", loc, minimum=0 if max_count is not None else 1)
    if min_count is None:
        min_count = 0 if max_count is not None else 1
    if max_count is not None and min_count > max_count:
        raise RuleError([*loc, "min_count"], "min_count must not exceed max_count")
    raw = data.get("within_days")
    within: float | None = None
    if raw is not None:
        if not isinstance(raw, int | float) or type(raw) is bool or not math.isfinite(raw):
            raise RuleError([*loc, "within_days"], f"expected a number; got {_describe(raw)}")
        if not 0 < raw <= MAX_WITHIN_DAYS:
            raise RuleError(
                [*loc, "within_days"], f"expected more than 0 and at most {MAX_WITHIN_DAYS}"
            )
        within = raw  # an int stays an int, so the rule dumps back as it was written
    return EventCondition(event, min_count, max_count, within)


def _count(data: dict[object, object], key: str, loc: list[str | int], minimum: int) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if type(value) is not int:
        raise RuleError([*loc, key], f"expected an integer; got {_describe(value)}")
    if not minimum <= value <= MAX_COUNT:
        raise RuleError([*loc, key], f"expected an integer from {minimum} to {MAX_COUNT}")
    return value


def _attribute_kind(path: str, loc: list[str | int]) -> str | None:
    """Validate ``path``; return the type of its values when known in advance."""
    namespace, dot, rest = path.partition(".")
    if namespace not in NAMESPACES:
        raise RuleError(
            loc,
            f"unknown attribute namespace {namespace!r}; expected one of: "
            f"{_choices(NAMESPACES)} (as in profile.plan or session.utm_medium)",
        )
    if not dot or not rest:
        raise RuleError(loc, f"expected a name after {namespace!r}, as in {namespace}.<name>")
    if namespace == "profile":
        if "" in rest.split("."):
            raise RuleError(loc, "empty segment in a profile property path")
        return None
    if namespace == "session":
        return None
    if path in _FIXED:
        return _FIXED[path]
    if namespace == "computed":
        sub, dot, name = rest.partition(".")
        if sub == "count" and dot and name:
            return "number"
        if sub == "category" and dot:
            if name not in CATEGORIES:
                raise RuleError(
                    loc, f"unknown category {name!r}; expected one of: {_choices(CATEGORIES)}"
                )
            return "number"
    names = [p.partition(".")[2] for p in _FIXED if p.startswith(namespace + ".")]
    if namespace == "computed":
        names += ["count.<event name>", "category.<category>"]
    raise RuleError(
        loc,
        f"unknown attribute {path!r}; expected {namespace}. followed by one of: {_choices(names)}",
    )


def _scalar(value: object, loc: list[str | int], what: str) -> Scalar:
    if type(value) is str:
        if len(value) > MAX_STRING:
            raise RuleError(loc, f"expected at most {MAX_STRING} characters")
        return value
    if type(value) is bool:
        return value
    if type(value) is int or type(value) is float:
        if not math.isfinite(value):
            raise RuleError(loc, "expected a finite number")
        return value
    hint = "; use op exists to test for a missing value" if value is None else ""
    raise RuleError(loc, f"expected {what}; got {_describe(value)}{hint}")


def _fits(value: Scalar, kind: str | None, enum: tuple[str, ...] | None, path: str) -> str | None:
    """Why ``value`` can never match ``path``'s values, if it cannot."""
    if kind == "number" and not _is_number(value):
        return f"{path} is a number; got {_describe(value)}"
    if kind == "string" and type(value) is not str:
        return f"{path} is a string; got {_describe(value)}"
    if enum is not None and value not in enum:
        return f"{path} is one of: {_choices(enum)}; got {value!r}"
    return None


def _parse_comparison(data: dict[object, object], loc: list[str | int]) -> Comparison:
    path = data["attribute"]
    if type(path) is not str:
        raise RuleError([*loc, "attribute"], f"expected a string; got {_describe(path)}")
    if len(path) > MAX_PATH:
        raise RuleError([*loc, "attribute"], f"expected at most {MAX_PATH} characters")
    kind = _attribute_kind(path, [*loc, "attribute"])
    enum = _ENUMS.get(path)

    if "op" not in data:
        raise RuleError([*loc, "op"], f"missing op; expected one of: {_choices(OPS)}")
    if data["op"] not in OPS:
        raise RuleError(
            [*loc, "op"], f"unknown op {data['op']!r}; expected one of: {_choices(OPS)}"
        )
    op = cast(Op, data["op"])

    value_loc: list[str | int] = [*loc, "value"]
    if op == "exists":
        value = data.get("value", True)
        if type(value) is not bool:
            raise RuleError(value_loc, f"exists takes true or false; got {_describe(value)}")
        wanted = value
        return Comparison(path, "exists", value, lambda v: (v is not MISSING) is wanted)
    if "value" not in data:
        raise RuleError(value_loc, f"missing value for op {op}")
    raw = data["value"]

    if op in ("eq", "ne"):
        scalar = _scalar(raw, value_loc, "a string, number or boolean")
        _reject_misfit(scalar, kind, enum, path, value_loc)
        check = _kind_eq(scalar)
        return Comparison(path, op, scalar, check if op == "eq" else _negate(check))

    if op in ("in", "not_in"):
        if not isinstance(raw, list):
            raise RuleError(value_loc, f"{op} takes a list of values; got {_describe(raw)}")
        if not raw:
            raise RuleError(value_loc, "expected at least one value")
        if len(raw) > MAX_LIST:
            raise RuleError(value_loc, f"expected at most {MAX_LIST} values")
        items = tuple(
            _scalar(item, [*value_loc, i], "a string, number or boolean")
            for i, item in enumerate(raw)
        )
        for i, item in enumerate(items):
            _reject_misfit(item, kind, enum, path, [*value_loc, i])
        check = _in(items)
        return Comparison(path, op, items, check if op == "in" else _negate(check))

    if op in _ORDERING:
        if type(raw) is bool or not (type(raw) is str or _is_number(raw)):
            raise RuleError(value_loc, f"{op} takes a number or a string; got {_describe(raw)}")
        scalar = _scalar(raw, value_loc, "a number or a string")
        if enum is not None and path != "time.hour":
            raise RuleError([*loc, "op"], f"{path} is not ordered; use eq, ne, in or not_in")
        _reject_misfit(scalar, kind, enum, path, value_loc)
        return Comparison(path, op, scalar, _ordering(op, scalar))

    if kind == "number":
        raise RuleError([*loc, "op"], f"{op} applies to strings and lists; {path} is a number")

    if op == "contains":
        scalar = _scalar(raw, value_loc, "a string, number or boolean")
        if kind == "string" and type(scalar) is not str:
            raise RuleError(value_loc, f"{path} is a string; got {_describe(scalar)}")
        return Comparison(path, op, scalar, _contains(scalar))

    # matches
    if type(raw) is not str:
        raise RuleError(value_loc, f"matches takes a regular expression; got {_describe(raw)}")
    if len(raw) > MAX_PATTERN:
        raise RuleError(value_loc, f"expected a pattern of at most {MAX_PATTERN} characters")
    try:
        check = _matches(raw)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise RuleError(
            value_loc,
            f"invalid regular expression: {reason} (RE2 syntax: no look-around or back-references)",
        ) from None
    return Comparison(path, "matches", raw, check)


def _reject_misfit(
    value: Scalar,
    kind: str | None,
    enum: tuple[str, ...] | None,
    path: str,
    loc: list[str | int],
) -> None:
    reason = _fits(value, kind, enum, path)
    if reason is not None:
        raise RuleError(loc, reason)
