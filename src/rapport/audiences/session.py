"""In-session attributes (custom keys, day and hour, geo from IP, device from user
agent) and the subject that audience rules are evaluated against.

Geo and device are derived only when a rule reads them, and each derivation is done
once per context and cached per process across requests: parsing a user agent costs
tens of microseconds to milliseconds, and user agents and IPs repeat a lot.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import maxminddb
import ua_parser

from rapport.audiences.rules import DAYS, MISSING

SessionValue: TypeAlias = str | int | float | bool
EventCounter: TypeAlias = Callable[[str, float | None], int]

# MoEngage's reserved in-session keys (Personalize API): a client that already knows
# them sends them; otherwise they are derived from the request.
DAY_OF_THE_WEEK: Final = "DAY_OF_THE_WEEK"
TIME_OF_THE_DAY: Final = "TIME_OF_THE_DAY"
USER_IP_ADDRESS: Final = "USER_IP_ADDRESS"
USER_AGENT: Final = "USER_AGENT"

# Longer user agents are truncated before parsing: they only ever carry noise at the
# end, and the cache must not hold arbitrarily large keys.
_MAX_USER_AGENT: Final = 1024

# --- time ----------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


_UTC: Final = ZoneInfo("UTC")
_DAY_NAMES: Final = {name.lower(): name for name in DAYS} | {
    name[:3].lower(): name for name in DAYS
}
_HOUR: Final = re.compile(r"^([01]?\d|2[0-3])(?::[0-5]\d(?::[0-5]\d)?)?$")


def local_time(now: float, timezone: str | None) -> tuple[str, str]:
    """``(day_of_week, hour)`` at ``now`` in ``timezone`` (UTC when unknown or invalid):
    ``("Monday", "09")``."""
    zone = (_zone(timezone) if timezone else None) or _UTC
    moment = datetime.fromtimestamp(now, zone)
    return DAYS[moment.weekday()], f"{moment.hour:02d}"


def normalize_day(value: object) -> str | None:
    """A client's ``DAY_OF_THE_WEEK`` as ``Monday``…``Sunday`` (any case, or the
    three-letter abbreviation); None when it is not a day."""
    if type(value) is not str:
        return None
    return _DAY_NAMES.get(value.strip().lower())


def normalize_hour(value: object) -> str | None:
    """A client's ``TIME_OF_THE_DAY`` as ``"00"``…``"23"`` (from 9, "9", "09" or
    "09:30"); None when it is not an hour."""
    if type(value) is int:
        return f"{value:02d}" if 0 <= value <= 23 else None
    if type(value) is not str:
        return None
    match = _HOUR.match(value.strip())
    return f"{int(match.group(1)):02d}" if match else None


# --- device --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """``type`` is one of mobile, tablet, desktop, bot, other; ``os`` and ``browser`` are
    ua-parser families (``iOS``, ``Android``, ``Windows``, ``Mac OS X``; ``Chrome``,
    ``Mobile Safari``, ``Chrome Mobile``, ``Googlebot``), None when unknown."""

    type: str
    os: str | None
    browser: str | None


# Bots that ua-parser does not file under its "Spider" device, by browser family.
_BOT_FAMILY: Final = re.compile(
    r"bot|crawl|spider|slurp|scrap|preview|headless|mediapartners", re.IGNORECASE
)
_TV_OR_CONSOLE: Final = re.compile(
    r"Smart-?TV|SmartTV|GoogleTV|Android TV|AppleTV|CrKey|Roku|BRAVIA|HbbTV|NetCast|"
    r"Web0S|webOS\.TV|Tizen.+TV|PlayStation|Xbox|Nintendo|\bAFT[A-Z]",
    re.IGNORECASE,
)
_TABLET: Final = re.compile(r"iPad|Tablet|PlayBook|Silk/|Kindle|Nexus (?:7|9|10)\b", re.IGNORECASE)
_MOBILE: Final = re.compile(
    r"Mobi|iPhone|iPod|Windows Phone|BlackBerry|BB10|Opera Mini|KAIOS", re.IGNORECASE
)
_MOBILE_OS: Final = frozenset(
    {
        "iOS",
        "Android",
        "Windows Phone",
        "Windows Mobile",
        "Windows CE",
        "BlackBerry OS",
        "BlackBerry Tablet OS",
        "KaiOS",
        "Firefox OS",
        "Symbian OS",
        "Symbian^3",
        "Bada",
        "Tizen",
        "HarmonyOS",
        "Sailfish",
        "webOS",
    }
)
_DESKTOP_OS: Final = frozenset(
    {
        "Mac OS X",
        "Mac OS",
        "macOS",
        "Linux",
        "Ubuntu",
        "Kubuntu",
        "Xubuntu",
        "Debian",
        "Fedora",
        "Red Hat",
        "CentOS",
        "SUSE",
        "openSUSE",
        "Mint",
        "Linux Mint",
        "Arch Linux",
        "Gentoo",
        "Slackware",
        "Mandriva",
        "Chrome OS",
        "ChromeOS",
        "FreeBSD",
        "OpenBSD",
        "NetBSD",
        "Solaris",
    }
)


def _family(part: ua_parser.UserAgent | ua_parser.OS | ua_parser.Device | None) -> str | None:
    if part is None or part.family in ("", "Other"):
        return None
    return part.family


def classify(result: ua_parser.Result) -> DeviceInfo:
    """Map a ua-parser result to a device type; ua-parser names devices but does not
    type them, so the type comes from its families plus a few well-known UA tokens."""
    ua = result.string
    os = _family(result.os)
    browser = _family(result.user_agent)
    device = _family(result.device)
    brand = result.device.brand if result.device is not None else None
    if device == "Spider" or (browser is not None and _BOT_FAMILY.search(browser)):
        kind = "bot"
    elif _TV_OR_CONSOLE.search(ua):
        kind = "other"
    elif (
        (device is not None and device.startswith("iPad"))
        or brand == "Generic_Android_Tablet"
        or _TABLET.search(ua)
        or (os == "Android" and "Mobile" not in ua)
    ):
        kind = "tablet"
    elif (
        os in _MOBILE_OS or (device is not None and device.startswith(("iPhone", "iPod")))
    ) or _MOBILE.search(ua):
        kind = "mobile"
    elif os is not None and (os in _DESKTOP_OS or os.startswith("Windows")):
        kind = "desktop"
    else:
        kind = "other"
    return DeviceInfo(kind, os, browser)


@lru_cache(maxsize=4096)
def parse_user_agent(user_agent: str) -> DeviceInfo:
    """Device type, OS and browser of a User-Agent string (cached per process).

    ua-parser picks its fastest available engine (google-re2, a dependency, or the
    optional ``ua-parser-rs``) and falls back to pure Python.
    """
    return classify(ua_parser.parse(user_agent[:_MAX_USER_AGENT]))


# --- geo -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Geo:
    """Where an IP address is. ``country`` is the ISO 3166-1 code (``US``); ``region``
    the subdivision's ISO code (``CA``), or its name when the database has no code;
    ``region_name`` its English name (``California``)."""

    country: str | None
    country_name: str | None
    region: str | None
    city: str | None
    region_name: str | None = None

    def get(self, name: str) -> str | None:
        if name == "country":
            return self.country
        if name == "country_name":
            return self.country_name
        if name == "region":
            return self.region
        if name == "region_name":
            return self.region_name
        if name == "city":
            return self.city
        return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _english(record: Mapping[str, Any]) -> str | None:
    return _text(_mapping(record.get("names")).get("en"))


def geo_from_record(record: object) -> Geo | None:
    """A GeoLite2-City / GeoIP2-City (or -Country) record as a ``Geo``; any part may be
    missing."""
    if not isinstance(record, Mapping):
        return None
    # Anycast and satellite networks may have only the registered country.
    country = _mapping(record.get("country")) or _mapping(record.get("registered_country"))
    subdivisions = record.get("subdivisions")
    first = _mapping(subdivisions[0]) if isinstance(subdivisions, list) and subdivisions else {}
    region_name = _english(first)
    return Geo(
        country=_text(country.get("iso_code")),
        country_name=_english(country),
        region=_text(first.get("iso_code")) or region_name,
        city=_english(_mapping(record.get("city"))),
        region_name=region_name,
    )


class GeoDatabase:
    """A MaxMind-format database (GeoLite2-City, GeoIP2-City, or -Country).

    Without a path nothing is looked up: ``available`` is False and every lookup is
    None, so rules on geo simply do not match. A configured path that cannot be read
    is an error at start-up, not a silent loss of geo targeting.
    """

    def __init__(self, path: Path | None, *, cache_size: int = 8192) -> None:
        self.path = path
        self._reader: maxminddb.Reader | None = (
            None if path is None else maxminddb.open_database(str(path))
        )
        self._cached = lru_cache(maxsize=cache_size)(self._lookup)

    @property
    def available(self) -> bool:
        return self._reader is not None

    def lookup(self, ip: str | None) -> Geo | None:
        """Where ``ip`` is; None when unknown, invalid, private, or no database."""
        if self._reader is None or not ip:
            return None
        try:
            address = ipaddress.ip_address(ip.strip())
        except ValueError:
            return None
        # Dual-stack servers show IPv4 clients as ::ffff:a.b.c.d; the database files
        # them under the IPv4 address.
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return self._cached(address)

    def cache_info(self) -> Any:
        """Hits and misses of the lookup cache (``functools`` cache info)."""
        return self._cached.cache_info()

    def _lookup(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Geo | None:
        if self._reader is None:
            return None
        try:
            record = self._reader.get(address)
        except ValueError:  # an IPv6 address in an IPv4-only database
            return None
        return geo_from_record(record)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
            self._cached.cache_clear()


_NO_GEO: Final = GeoDatabase(None)

# --- session -------------------------------------------------------------------------

_PENDING: Final = object()


class SessionContext:
    """What the request says about the moment: custom keys (``session.*``), local day
    and hour (``time.*``), and the IP and user agent that ``geo.*`` and ``device.*``
    are derived from on first use."""

    __slots__ = (
        "_day",
        "_device",
        "_geo",
        "_hour",
        "custom",
        "geo_database",
        "ip",
        "now",
        "timezone",
        "user_agent",
    )

    def __init__(
        self,
        *,
        custom: Mapping[str, SessionValue] | None = None,
        now: float | None = None,
        timezone: str | None = None,
        day_of_week: str | None = None,
        hour: str | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
        geo_database: GeoDatabase | None = None,
    ) -> None:
        self.custom: Mapping[str, SessionValue] = custom or {}
        self.now = time.time() if now is None else now
        self.timezone = timezone
        self._day = normalize_day(day_of_week)
        self._hour = normalize_hour(hour)
        self.ip = ip or None
        self.user_agent = user_agent or None
        self.geo_database = geo_database or _NO_GEO
        self._geo: object = _PENDING
        self._device: object = _PENDING

    @classmethod
    def from_request(
        cls,
        attributes: Mapping[str, SessionValue] | None,
        *,
        now: float | None = None,
        timezone: str | None = None,
        client_ip: str | None = None,
        user_agent_header: str | None = None,
        geo_database: GeoDatabase | None = None,
    ) -> SessionContext:
        """From the request's in-session attributes: MoEngage's reserved keys win
        (``DAY_OF_THE_WEEK``, ``TIME_OF_THE_DAY``, ``USER_IP_ADDRESS``, ``USER_AGENT``),
        else the clock in ``timezone`` (the user's; UTC by default), the connection's
        address and the User-Agent header. Every key, reserved or not, is also readable
        as ``session.<key>``."""
        attrs = attributes or {}
        ip = attrs.get(USER_IP_ADDRESS)
        agent = attrs.get(USER_AGENT)
        day = attrs.get(DAY_OF_THE_WEEK)
        hour = attrs.get(TIME_OF_THE_DAY)
        return cls(
            custom=attrs,
            now=now,
            timezone=timezone,
            day_of_week=day if isinstance(day, str) else None,
            hour=str(hour) if type(hour) is int or type(hour) is str else None,
            ip=ip if isinstance(ip, str) and ip else client_ip,
            user_agent=agent if isinstance(agent, str) and agent else user_agent_header,
            geo_database=geo_database,
        )

    def _local(self) -> None:
        day, hour = local_time(self.now, self.timezone)
        if self._day is None:
            self._day = day
        if self._hour is None:
            self._hour = hour

    @property
    def day_of_week(self) -> str:
        if self._day is None:
            self._local()
        assert self._day is not None
        return self._day

    @property
    def hour(self) -> str:
        if self._hour is None:
            self._local()
        assert self._hour is not None
        return self._hour

    @property
    def geo(self) -> Geo | None:
        if self._geo is _PENDING:
            self._geo = self.geo_database.lookup(self.ip)
        return self._geo  # type: ignore[return-value]

    @property
    def device(self) -> DeviceInfo | None:
        if self._device is _PENDING:
            self._device = parse_user_agent(self.user_agent) if self.user_agent else None
        return self._device  # type: ignore[return-value]

    def value(self, path: str) -> object:
        """A ``session.*``, ``time.*``, ``geo.*`` or ``device.*`` attribute, or
        ``MISSING``."""
        namespace, _, name = path.partition(".")
        if namespace == "session":
            return self.custom.get(name, MISSING)
        if namespace == "time":
            if name == "day_of_week":
                return self.day_of_week
            return self.hour if name == "hour" else MISSING
        if namespace == "geo":
            geo = self.geo
            found = None if geo is None else geo.get(name)
            return MISSING if found is None else found
        if namespace == "device":
            device = self.device
            if device is None:
                return MISSING
            if name == "type":
                return device.type
            found = device.os if name == "os" else device.browser if name == "browser" else None
            return MISSING if found is None else found
        return MISSING


# --- the subject ---------------------------------------------------------------------


def _no_events(pattern: str, since: float | None) -> int:
    return 0


def _epoch(value: object) -> object:
    return value.timestamp() if isinstance(value, datetime) else value


class AudienceSubject:
    """A profile snapshot, its event counts and the session, as rules see them.

    ``properties`` are the profile's traits. ``computed`` has the keys of the
    Management API's ``Computed`` (``first_seen``, ``last_seen`` as epoch seconds or
    datetimes, ``event_count``, ``timezone``, ``locale``, ``counts_by_name``,
    ``counts_by_category``), so ``msgspec.structs.asdict(profile.computed)`` fits.
    Counts of events never seen are 0, not missing. ``event_count`` answers event
    conditions, typically from counts prefetched for ``rules.event_conditions``.
    """

    __slots__ = ("_count", "_values", "computed", "properties", "session")

    def __init__(
        self,
        *,
        properties: Mapping[str, Any] | None = None,
        computed: Mapping[str, Any] | None = None,
        event_count: EventCounter | None = None,
        session: SessionContext | None = None,
    ) -> None:
        self.properties: Mapping[str, Any] = properties or {}
        self.computed: Mapping[str, Any] = computed or {}
        self._count = event_count or _no_events
        self.session = session or SessionContext()
        # Attribute values by path: a request evaluates many audiences that read the
        # same few attributes, and a subject does not change while it is evaluated.
        self._values: dict[str, object] = {}

    @property
    def now(self) -> float:
        return self.session.now

    def event_count(self, pattern: str, since: float | None) -> int:
        return self._count(pattern, since)

    def value(self, path: str) -> object:
        found = self._values.get(path, _PENDING)
        if found is _PENDING:
            found = self._values[path] = self._value(path)
        return found

    def _value(self, path: str) -> object:
        namespace, _, name = path.partition(".")
        if namespace == "profile":
            return _lookup(self.properties, name)
        if namespace == "computed":
            return self._computed(name)
        return self.session.value(path)

    def _computed(self, name: str) -> object:
        if name.startswith("count."):
            return _mapping(self.computed.get("counts_by_name")).get(name[6:], 0)
        if name.startswith("category."):
            return _mapping(self.computed.get("counts_by_category")).get(name[9:], 0)
        if name == "event_count":
            return self.computed.get("event_count", 0)
        if name in ("first_seen", "last_seen", "timezone", "locale"):
            value = self.computed.get(name)
            return MISSING if value is None else _epoch(value)
        return MISSING


def _lookup(properties: Mapping[str, Any], path: str) -> object:
    """``a.b.c`` into nested objects; a property literally named ``a.b`` wins."""
    if path in properties:
        return properties[path]
    if "." not in path:
        return MISSING
    current: object = properties
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return MISSING
        current = current[part]
    return current


def matches_event(pattern: str, name: str) -> bool:
    """An event condition's ``event``: an exact name, or a glob with ``*``, ``?`` or
    ``[...]`` (case-sensitive, as event names are)."""
    if not any(ch in pattern for ch in "*?["):
        return pattern == name
    return fnmatchcase(name, pattern)


class EventLog:
    """Counts events from a list of ``(name, occurred_at)``: for previews and tests,
    where the events are already in memory."""

    def __init__(self, events: Iterable[tuple[str, float]]) -> None:
        self.events = list(events)

    def __call__(self, pattern: str, since: float | None) -> int:
        return sum(
            1
            for name, at in self.events
            if (since is None or at >= since) and matches_event(pattern, name)
        )
