"""In-session attributes: device from real user agents, geo from a real MaxMind-format
database built here, local day and hour, and the subject that combines them with a
profile."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import ua_parser
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from rapport.audiences.rules import MISSING, evaluate, parse_rule
from rapport.audiences.session import (
    AudienceSubject,
    DeviceInfo,
    EventLog,
    Geo,
    GeoDatabase,
    SessionContext,
    classify,
    local_time,
    matches_event,
    normalize_day,
    normalize_hour,
    parse_user_agent,
)

# --- device -----------------------------------------------------------------------------

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
ANDROID_PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
WINDOWS_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
MAC_SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15"
)
LINUX_FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GOOGLEBOT_SMARTPHONE = (
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.6367.118 Mobile Safari/537.36 "
    "(compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
)
SMART_TV = (
    "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36"
)
CURL = "curl/8.5.0"
# Chrome's reduced user agents: tablets are told apart from phones only by "Mobile".
REDUCED_TABLET = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
REDUCED_PHONE = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36"
)
LENOVO_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; Lenovo TB-X606F) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
PYTHON_URLLIB = "Python-urllib/3.11"
HEADLESS_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/124.0.0.0 Safari/537.36"
)

DEVICES = [
    (IPHONE, DeviceInfo("mobile", "iOS", "Mobile Safari")),
    (ANDROID_PHONE, DeviceInfo("mobile", "Android", "Chrome Mobile")),
    (IPAD, DeviceInfo("tablet", "iOS", "Mobile Safari")),
    (ANDROID_TABLET, DeviceInfo("tablet", "Android", "Chrome")),
    (WINDOWS_CHROME, DeviceInfo("desktop", "Windows", "Chrome")),
    (MAC_SAFARI, DeviceInfo("desktop", "Mac OS X", "Safari")),
    (LINUX_FIREFOX, DeviceInfo("desktop", "Linux", "Firefox")),
    (GOOGLEBOT, DeviceInfo("bot", None, "Googlebot")),
    (GOOGLEBOT_SMARTPHONE, DeviceInfo("bot", "Android", "Googlebot")),
    (CURL, DeviceInfo("other", None, "curl")),
    (REDUCED_TABLET, DeviceInfo("tablet", "Android", "Chrome")),
    (REDUCED_PHONE, DeviceInfo("mobile", "Android", "Chrome Mobile")),
    (LENOVO_TABLET, DeviceInfo("tablet", "Android", "Chrome")),
    (PYTHON_URLLIB, DeviceInfo("bot", None, "Python-urllib")),
    (HEADLESS_CHROME, DeviceInfo("bot", "Windows", "HeadlessChrome")),
]


@pytest.mark.parametrize(("user_agent", "expected"), DEVICES)
def test_device_from_user_agent(user_agent: str, expected: DeviceInfo) -> None:
    assert parse_user_agent(user_agent) == expected


def test_smart_tv_is_other() -> None:
    assert parse_user_agent(SMART_TV).type == "other"


@pytest.fixture(scope="module")
def pure_python_parser() -> ua_parser.Parser:
    return ua_parser.Parser(ua_parser.BasicResolver(ua_parser.load_builtins()))


@pytest.mark.parametrize(("user_agent", "expected"), DEVICES)
def test_pure_python_parser_agrees(
    pure_python_parser: ua_parser.Parser, user_agent: str, expected: DeviceInfo
) -> None:
    """Without any native accelerator, ua-parser's pure-Python resolver gives the same
    answers."""
    assert classify(pure_python_parser.parse(user_agent)) == expected


def test_user_agent_parses_are_cached() -> None:
    user_agent = IPHONE + " rapport-cache-test"
    before = parse_user_agent.cache_info()
    first = parse_user_agent(user_agent)
    second = parse_user_agent(user_agent)
    after = parse_user_agent.cache_info()
    assert first is second
    assert after.misses == before.misses + 1
    assert after.hits == before.hits + 1


def test_device_attributes_in_rules() -> None:
    def device(user_agent: str | None, rule: object) -> bool:
        session = SessionContext(user_agent=user_agent)
        return evaluate(parse_rule(rule), AudienceSubject(session=session))

    assert device(IPHONE, {"attribute": "device.type", "op": "eq", "value": "mobile"})
    assert device(IPAD, {"attribute": "device.type", "op": "in", "value": ["tablet"]})
    assert device(WINDOWS_CHROME, {"attribute": "device.os", "op": "eq", "value": "Windows"})
    assert device(ANDROID_PHONE, {"attribute": "device.browser", "op": "matches", "value": "^Ch"})
    assert not device(GOOGLEBOT, {"attribute": "device.type", "op": "ne", "value": "bot"})
    assert not device(GOOGLEBOT, {"attribute": "device.os", "op": "exists"})
    # no user agent at all: every device attribute is missing
    assert not device(None, {"attribute": "device.type", "op": "exists"})
    assert device(None, {"attribute": "device.type", "op": "ne", "value": "bot"})


# --- geo --------------------------------------------------------------------------------

LONDON = {
    "city": {"geoname_id": 2643743, "names": {"en": "London", "de": "London"}},
    "continent": {"code": "EU", "names": {"en": "Europe"}},
    "country": {"geoname_id": 2635167, "iso_code": "GB", "names": {"en": "United Kingdom"}},
    "location": {"latitude": 51.5142, "longitude": -0.0931, "time_zone": "Europe/London"},
    "registered_country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
    "subdivisions": [{"iso_code": "ENG", "names": {"en": "England"}}],
}
SAN_FRANCISCO = {
    "city": {"names": {"en": "San Francisco"}},
    "country": {"iso_code": "US", "names": {"en": "United States"}},
    "subdivisions": [{"iso_code": "CA", "names": {"en": "California"}}],
}
COUNTRY_ONLY = {"country": {"iso_code": "SE", "names": {"en": "Sweden"}}}
REGISTERED_ONLY = {"registered_country": {"iso_code": "NL", "names": {"en": "Netherlands"}}}
NAMED_REGION = {
    "country": {"iso_code": "JP"},
    "subdivisions": [{"names": {"en": "Tokyo"}}],
    "city": {"names": {"fr": "Tokyo"}},
}


@pytest.fixture(scope="module")
def geo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small GeoLite2-City-layout database (IPv6 tree with IPv4 mapped in)."""
    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type="GeoLite2-City",
        languages=["en"],
        description="rapport test database",
    )
    writer.insert_network(IPSet(["81.2.69.0/24"]), LONDON)
    writer.insert_network(IPSet(["216.160.83.56/29"]), SAN_FRANCISCO)
    writer.insert_network(IPSet(["2001:db8:1::/48"]), SAN_FRANCISCO)
    writer.insert_network(IPSet(["89.160.20.0/24"]), COUNTRY_ONLY)
    writer.insert_network(IPSet(["203.0.113.0/24"]), REGISTERED_ONLY)
    writer.insert_network(IPSet(["198.51.100.0/24"]), NAMED_REGION)
    path = tmp_path_factory.mktemp("geo") / "GeoLite2-City-test.mmdb"
    writer.to_db_file(str(path))
    return path


@pytest.fixture
def geo(geo_path: Path) -> Iterator[GeoDatabase]:
    database = GeoDatabase(geo_path)
    yield database
    database.close()


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("81.2.69.160", Geo("GB", "United Kingdom", "ENG", "London", "England")),
        ("81.2.69.1", Geo("GB", "United Kingdom", "ENG", "London", "England")),
        ("::ffff:81.2.69.160", Geo("GB", "United Kingdom", "ENG", "London", "England")),
        (" 216.160.83.60 ", Geo("US", "United States", "CA", "San Francisco", "California")),
        ("2001:db8:1::42", Geo("US", "United States", "CA", "San Francisco", "California")),
        ("89.160.20.7", Geo("SE", "Sweden", None, None, None)),
        ("203.0.113.9", Geo("NL", "Netherlands", None, None, None)),
        ("198.51.100.1", Geo("JP", None, "Tokyo", None, "Tokyo")),
    ],
)
def test_geo_lookup_inside_networks(geo: GeoDatabase, ip: str, expected: Geo) -> None:
    assert geo.available
    assert geo.lookup(ip) == expected


@pytest.mark.parametrize(
    "ip",
    [
        "81.2.70.1",  # just outside the London network
        "216.160.83.64",  # just outside the San Francisco /29
        "8.8.8.8",
        "10.0.0.1",
        "2001:db8:2::1",
        "not-an-ip",
        "999.1.1.1",
        "",
        None,
    ],
)
def test_geo_lookup_outside_networks(geo: GeoDatabase, ip: str | None) -> None:
    assert geo.lookup(ip) is None


def test_geo_lookups_are_cached(geo: GeoDatabase) -> None:
    first = geo.lookup("81.2.69.160")
    second = geo.lookup("81.2.69.160")
    assert first is second
    info = geo.cache_info()
    assert (info.hits, info.misses) == (1, 1)


def test_ipv4_only_database_ignores_ipv6(tmp_path: Path) -> None:
    writer = MMDBWriter(ip_version=4, database_type="GeoLite2-City")
    writer.insert_network(IPSet(["81.2.69.0/24"]), LONDON)
    path = tmp_path / "v4.mmdb"
    writer.to_db_file(str(path))
    database = GeoDatabase(path)
    try:
        assert database.lookup("81.2.69.160") == Geo(
            "GB", "United Kingdom", "ENG", "London", "England"
        )
        assert database.lookup("2001:db8:1::42") is None
    finally:
        database.close()


def test_no_database() -> None:
    database = GeoDatabase(None)
    assert not database.available
    assert database.lookup("81.2.69.160") is None
    session = SessionContext(ip="81.2.69.160", geo_database=database)
    subject = AudienceSubject(session=session)
    assert not evaluate(
        parse_rule({"attribute": "geo.country", "op": "eq", "value": "GB"}), subject
    )
    assert evaluate(parse_rule({"attribute": "geo.country", "op": "ne", "value": "GB"}), subject)
    assert not evaluate(parse_rule({"attribute": "geo.city", "op": "exists"}), subject)
    # and a context without any database behaves the same
    assert SessionContext(ip="81.2.69.160").geo is None


def test_a_configured_but_missing_database_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        GeoDatabase(tmp_path / "absent.mmdb")


def test_geo_attributes_in_rules(geo: GeoDatabase) -> None:
    def where(ip: str, rule: object) -> bool:
        session = SessionContext(ip=ip, geo_database=geo)
        return evaluate(parse_rule(rule), AudienceSubject(session=session))

    assert where("81.2.69.160", {"attribute": "geo.country", "op": "eq", "value": "GB"})
    assert where(
        "81.2.69.160", {"attribute": "geo.country_name", "op": "contains", "value": "King"}
    )
    assert where("81.2.69.160", {"attribute": "geo.region", "op": "eq", "value": "ENG"})
    assert where("81.2.69.160", {"attribute": "geo.region_name", "op": "eq", "value": "England"})
    assert where("81.2.69.160", {"attribute": "geo.city", "op": "in", "value": ["London"]})
    assert not where("8.8.8.8", {"attribute": "geo.country", "op": "exists"})
    assert not where("89.160.20.7", {"attribute": "geo.city", "op": "exists"})
    assert where("89.160.20.7", {"attribute": "geo.country", "op": "not_in", "value": ["GB"]})


def test_geo_and_device_are_derived_only_when_read(geo: GeoDatabase) -> None:
    session = SessionContext(
        custom={"utm_medium": "email"},
        ip="81.2.69.160",
        user_agent=IPHONE + " rapport-lazy-test",
        geo_database=geo,
    )
    subject = AudienceSubject(session=session)
    agents_before = parse_user_agent.cache_info()
    rule = parse_rule({"attribute": "session.utm_medium", "op": "eq", "value": "email"})
    assert evaluate(rule, subject)
    assert geo.cache_info().misses == 0
    assert parse_user_agent.cache_info() == agents_before

    rule = parse_rule(
        {
            "all": [
                {"attribute": "geo.country", "op": "eq", "value": "GB"},
                {"attribute": "geo.city", "op": "eq", "value": "London"},
                {"attribute": "device.type", "op": "eq", "value": "mobile"},
                {"attribute": "device.os", "op": "eq", "value": "iOS"},
            ]
        }
    )
    assert evaluate(rule, subject)
    assert evaluate(rule, subject)
    # one lookup and one parse for the context, however many rules read them
    assert geo.cache_info().misses == 1
    assert geo.cache_info().hits == 0
    assert parse_user_agent.cache_info().misses == agents_before.misses + 1


# --- day and hour -------------------------------------------------------------------------

# 2024-01-01T00:30:00Z, a Monday
NEW_YEAR = datetime(2024, 1, 1, 0, 30, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("timezone", "expected"),
    [
        (None, ("Monday", "00")),
        ("UTC", ("Monday", "00")),
        ("America/New_York", ("Sunday", "19")),
        ("Asia/Kolkata", ("Monday", "06")),
        ("Pacific/Kiritimati", ("Monday", "14")),
        ("Not/AZone", ("Monday", "00")),
        ("", ("Monday", "00")),
    ],
)
def test_local_time(timezone: str | None, expected: tuple[str, str]) -> None:
    assert local_time(NEW_YEAR, timezone) == expected
    session = SessionContext(now=NEW_YEAR, timezone=timezone)
    assert (session.day_of_week, session.hour) == expected


def test_daylight_saving_time_is_respected() -> None:
    july = datetime(2024, 7, 1, 12, 0, tzinfo=UTC).timestamp()
    assert local_time(july, "Europe/Paris") == ("Monday", "14")
    assert local_time(NEW_YEAR + 12 * 3600, "Europe/Paris") == ("Monday", "13")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Sunday", "Sunday"),
        ("sunday", "Sunday"),
        (" SAT ", "Saturday"),
        ("thu", "Thursday"),
        ("Sundays", None),
        ("", None),
        (7, None),
        (None, None),
    ],
)
def test_normalize_day(raw: object, expected: str | None) -> None:
    assert normalize_day(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("09", "09"),
        ("9", "09"),
        (9, "09"),
        (0, "00"),
        ("23", "23"),
        ("09:45", "09"),
        ("18:05:59", "18"),
        ("24", None),
        (24, None),
        (-1, None),
        ("9am", None),
        ("", None),
        (9.5, None),
        (True, None),
        (None, None),
    ],
)
def test_normalize_hour(raw: object, expected: str | None) -> None:
    assert normalize_hour(raw) == expected


def test_client_sent_day_and_hour_win_over_the_clock() -> None:
    session = SessionContext.from_request(
        {"DAY_OF_THE_WEEK": "Sunday", "TIME_OF_THE_DAY": "21"}, now=NEW_YEAR
    )
    assert (session.day_of_week, session.hour) == ("Sunday", "21")
    session = SessionContext.from_request({"TIME_OF_THE_DAY": 7}, now=NEW_YEAR)
    assert (session.day_of_week, session.hour) == ("Monday", "07")
    # only the day sent: the hour comes from the clock, the day stays the client's
    session = SessionContext.from_request({"DAY_OF_THE_WEEK": "Friday"}, now=NEW_YEAR)
    assert (session.hour, session.day_of_week) == ("00", "Friday")
    # unusable values fall back to the clock in the user's time zone
    session = SessionContext.from_request(
        {"DAY_OF_THE_WEEK": "Someday", "TIME_OF_THE_DAY": "25"},
        now=NEW_YEAR,
        timezone="America/New_York",
    )
    assert (session.day_of_week, session.hour) == ("Sunday", "19")


def test_time_attributes_in_rules() -> None:
    session = SessionContext(now=NEW_YEAR, timezone="America/New_York")
    subject = AudienceSubject(session=session)
    weekend = parse_rule(
        {"attribute": "time.day_of_week", "op": "in", "value": ["Saturday", "Sunday"]}
    )
    evening = parse_rule(
        {
            "all": [
                {"attribute": "time.hour", "op": "gte", "value": "18"},
                {"attribute": "time.hour", "op": "lt", "value": "22"},
            ]
        }
    )
    assert evaluate(weekend, subject)
    assert evaluate(evening, subject)
    monday_in_tokyo = AudienceSubject(session=SessionContext(now=NEW_YEAR, timezone="Asia/Tokyo"))
    assert not evaluate(weekend, monday_in_tokyo)
    assert not evaluate(evening, monday_in_tokyo)


# --- the request ------------------------------------------------------------------------------


def test_from_request_reserved_keys_win(geo: GeoDatabase) -> None:
    session = SessionContext.from_request(
        {"USER_IP_ADDRESS": "81.2.69.160", "USER_AGENT": IPHONE, "utm_medium": "email"},
        client_ip="216.160.83.60",
        user_agent_header=WINDOWS_CHROME,
        geo_database=geo,
    )
    assert session.ip == "81.2.69.160"
    assert session.geo is not None
    assert session.geo.country == "GB"
    assert session.device == DeviceInfo("mobile", "iOS", "Mobile Safari")
    assert session.value("session.utm_medium") == "email"
    assert session.value("session.USER_AGENT") == IPHONE


def test_from_request_falls_back_to_the_connection(geo: GeoDatabase) -> None:
    session = SessionContext.from_request(
        {"utm_source": "newsletter", "USER_IP_ADDRESS": ""},
        client_ip="216.160.83.60",
        user_agent_header=WINDOWS_CHROME,
        geo_database=geo,
    )
    assert session.geo is not None
    assert session.geo.city == "San Francisco"
    assert session.device is not None
    assert session.device.type == "desktop"
    empty = SessionContext.from_request(None)
    assert empty.geo is None
    assert empty.device is None
    assert empty.value("session.utm_source") is MISSING


def test_session_keys_in_rules() -> None:
    session = SessionContext.from_request(
        {"utm_medium": "email", "utm_campaign": "spring-sale", "cart_items": 3, "logged_in": True}
    )
    subject = AudienceSubject(session=session)

    def ok(rule: object) -> bool:
        return evaluate(parse_rule(rule), subject)

    assert ok({"attribute": "session.utm_medium", "op": "eq", "value": "email"})
    assert ok({"attribute": "session.utm_campaign", "op": "matches", "value": "^spring-"})
    assert ok({"attribute": "session.cart_items", "op": "gte", "value": 2})
    assert ok({"attribute": "session.logged_in", "op": "eq", "value": True})
    assert not ok({"attribute": "session.cart_items", "op": "eq", "value": "3"})
    assert not ok({"attribute": "session.utm_source", "op": "exists"})


# --- the subject: profile and computed ------------------------------------------------------


def test_profile_and_computed_values() -> None:
    subject = AudienceSubject(
        properties={
            "plan": "gold",
            "address": {"city": "Lyon", "geo": {"zip": "69001"}},
            "a.b": "literal",
            "a": {"b": "nested"},
            "nickname": None,
        },
        computed={
            "first_seen": datetime(2024, 1, 1, tzinfo=UTC),
            "last_seen": 1_718_000_000.0,
            "event_count": 12,
            "counts_by_name": {"purchase": 2},
            "counts_by_category": {"conversion": 4},
            "timezone": "Europe/Paris",
            "locale": None,
        },
        session=SessionContext(now=NEW_YEAR),
    )
    assert subject.value("profile.plan") == "gold"
    assert subject.value("profile.address.city") == "Lyon"
    assert subject.value("profile.address.geo.zip") == "69001"
    assert subject.value("profile.address.zip") is MISSING
    assert subject.value("profile.plan.name") is MISSING
    assert subject.value("profile.a.b") == "literal"
    assert subject.value("profile.missing") is MISSING
    assert subject.value("computed.first_seen") == NEW_YEAR - 30 * 60
    assert subject.value("computed.last_seen") == 1_718_000_000.0
    assert subject.value("computed.event_count") == 12
    assert subject.value("computed.count.purchase") == 2
    assert subject.value("computed.count.refund") == 0
    assert subject.value("computed.category.conversion") == 4
    assert subject.value("computed.category.messaging") == 0
    assert subject.value("computed.timezone") == "Europe/Paris"
    assert subject.value("computed.locale") is MISSING
    assert subject.now == NEW_YEAR

    def ok(rule: object) -> bool:
        return evaluate(parse_rule(rule), subject)

    assert not ok({"attribute": "profile.nickname", "op": "exists"})
    assert ok({"attribute": "profile.nickname", "op": "ne", "value": "x"})
    assert ok({"attribute": "computed.count.refund", "op": "eq", "value": 0})
    assert ok({"attribute": "computed.first_seen", "op": "lt", "value": NEW_YEAR})


def test_a_new_visitor_has_zero_counts_and_no_profile() -> None:
    subject = AudienceSubject()
    assert subject.value("computed.event_count") == 0
    assert subject.value("computed.first_seen") is MISSING
    assert not evaluate(parse_rule({"event": "purchase"}), subject)
    assert evaluate(parse_rule({"event": "purchase", "max_count": 0}), subject)


def test_event_conditions_through_an_event_log() -> None:
    now = NEW_YEAR
    log = EventLog(
        [
            ("Order Completed", now - 3600),
            ("Order Completed", now - 20 * 86400),
            ("Product Viewed", now - 60),
        ]
    )
    subject = AudienceSubject(event_count=log, session=SessionContext(now=now))

    def ok(rule: object) -> bool:
        return evaluate(parse_rule(rule), subject)

    assert ok({"event": "Order Completed", "min_count": 2})
    assert not ok({"event": "Order Completed", "min_count": 2, "within_days": 7})
    assert ok({"event": "Order *", "within_days": 1})
    assert ok({"event": "Product Viewed", "max_count": 1})


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("purchase", "purchase", True),
        ("purchase", "purchases", False),
        ("Purchase", "purchase", False),
        ("checkout*", "checkout_started", True),
        ("Product ?iewed", "Product Viewed", True),
        ("[Pp]roduct*", "product_added", True),
        ("push_*", "email_open", False),
    ],
)
def test_matches_event(pattern: str, name: str, expected: bool) -> None:
    assert matches_event(pattern, name) is expected
