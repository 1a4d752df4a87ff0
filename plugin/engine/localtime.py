"""The buyer's local time: which zone they live in, and when quiet hours let a message go.

Quiet hours are wall-clock times in the buyer's zone, so they follow daylight-saving changes:
09:00 stays 09:00 local whether the zone is on summer or winter time.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import phonenumbers.timezone

from plugin.phones import phone_region

#: ISO 3166 country -> the zone most of its people live in (the capital's for wide countries).
COUNTRY_ZONES: dict[str, str] = {
    "AT": "Europe/Vienna", "AU": "Australia/Sydney", "BE": "Europe/Brussels",
    "BG": "Europe/Sofia", "BR": "America/Sao_Paulo", "CA": "America/Toronto",
    "CH": "Europe/Zurich", "CN": "Asia/Shanghai", "CY": "Asia/Nicosia", "CZ": "Europe/Prague",
    "DE": "Europe/Berlin", "DK": "Europe/Copenhagen", "EE": "Europe/Tallinn",
    "EG": "Africa/Cairo", "ES": "Europe/Madrid", "FI": "Europe/Helsinki", "FR": "Europe/Paris",
    "GB": "Europe/London", "GG": "Europe/Guernsey", "IM": "Europe/Isle_of_Man",
    "JE": "Europe/Jersey", "GR": "Europe/Athens", "HK": "Asia/Hong_Kong", "HR": "Europe/Zagreb",
    "HU": "Europe/Budapest", "ID": "Asia/Jakarta", "IE": "Europe/Dublin", "IL": "Asia/Jerusalem",
    "IN": "Asia/Kolkata", "IS": "Atlantic/Reykjavik", "IT": "Europe/Rome", "JP": "Asia/Tokyo",
    "KR": "Asia/Seoul", "LT": "Europe/Vilnius", "LU": "Europe/Luxembourg", "LV": "Europe/Riga",
    "MA": "Africa/Casablanca", "MT": "Europe/Malta", "MX": "America/Mexico_City",
    "MY": "Asia/Kuala_Lumpur", "NG": "Africa/Lagos", "NL": "Europe/Amsterdam",
    "NO": "Europe/Oslo", "NZ": "Pacific/Auckland", "PH": "Asia/Manila", "PL": "Europe/Warsaw",
    "PT": "Europe/Lisbon", "RO": "Europe/Bucharest", "RS": "Europe/Belgrade",
    "RU": "Europe/Moscow", "SA": "Asia/Riyadh", "SE": "Europe/Stockholm", "SG": "Asia/Singapore",
    "SI": "Europe/Ljubljana", "SK": "Europe/Bratislava", "TH": "Asia/Bangkok",
    "TR": "Europe/Istanbul", "UA": "Europe/Kyiv", "AE": "Asia/Dubai", "US": "America/New_York",
    "ZA": "Africa/Johannesburg", "AR": "America/Argentina/Buenos_Aires", "CL": "America/Santiago",
    "CO": "America/Bogota", "PE": "America/Lima", "KE": "Africa/Nairobi",
}  # fmt: skip

#: How far ahead to look for an allowed moment (a week of quiet days at most, plus margin).
SEARCH_DAYS = 9


#: Characters of an E.164 number that settle its country (country code and leading digits).
REGION_PREFIX = 8


#: Region per number prefix; bounded, as prefixes are few but numbers are not.
_REGIONS: dict[str, str | None] = {}
_REGIONS_KEPT = 100_000


def region_of(phone: str) -> str | None:
    """phone_region, computed once per number prefix (composition meets 100,000s of numbers)."""
    prefix = phone[:REGION_PREFIX]
    if prefix not in _REGIONS:
        if len(_REGIONS) >= _REGIONS_KEPT:
            _REGIONS.clear()
        _REGIONS[prefix] = phone_region(phone)
    return _REGIONS[prefix]


#: Zone per number prefix, from the numbering plan's geography (phonenumbers' timezone data).
_NUMBER_ZONES: dict[str, str | None] = {}


def number_zone(phone: str) -> str | None:
    """The zone a number's prefix places it in: its only one, else its country's.

    A US number's area code is a better guess than one zone for the whole country; a number of
    the Channel Islands or the Isle of Man (regions GG, JE, IM) gets their zone too.
    """
    prefix = phone[:REGION_PREFIX]
    if prefix not in _NUMBER_ZONES:
        if len(_NUMBER_ZONES) >= _REGIONS_KEPT:
            _NUMBER_ZONES.clear()
        try:
            zones = phonenumbers.timezone.time_zones_for_number(phonenumbers.parse(phone))
        except phonenumbers.NumberParseException:
            zones = ()
        zones = tuple(z for z in zones if z != "Etc/Unknown")
        region = region_of(phone) or ""
        _NUMBER_ZONES[prefix] = (
            zones[0]
            if len(zones) == 1
            else COUNTRY_ZONES.get(region) or (zones[0] if zones else None)
        )
    return _NUMBER_ZONES[prefix]


def zone_named(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def buyer_zone(
    store_zone: str,
    *,
    customer_zone: str | None = None,
    customer_country: str | None = None,
    phone: str | None = None,
) -> ZoneInfo:
    """The customer's zone, else their address country's, else their number's, else the shop's."""
    candidates = [
        customer_zone,
        COUNTRY_ZONES.get((customer_country or "").upper()),
        number_zone(phone) if phone else None,
    ]
    for name in candidates:
        zone = zone_named(name)
        if zone is not None:
            return zone
    return zone_named(store_zone) or ZoneInfo("UTC")


@functools.lru_cache(maxsize=256)
def parse_clock(text: str) -> dt.time:
    """HH:MM as a time; kept per text, since every guarded message parses the same few."""
    hours, minutes = text.split(":")
    return dt.time(int(hours), int(minutes))


def is_quiet(local: dt.datetime, start: dt.time, end: dt.time, quiet_days: Iterable[int]) -> bool:
    """True when a local wall-clock moment falls in quiet hours or on a quiet weekday."""
    if local.isoweekday() in set(quiet_days):
        return True
    moment = local.time().replace(tzinfo=None)
    if start == end:
        return False
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end  # the window wraps past midnight


def next_allowed(
    now: dt.datetime,
    zone: ZoneInfo,
    start: dt.time,
    end: dt.time,
    quiet_days: Iterable[int] = (),
) -> dt.datetime:
    """`now` when it is not quiet for the buyer, else the first moment after it that is (UTC).
    Remembered for recent arguments: composing asks it for thousands of buyers at one moment
    and in a few zones."""
    return _next_allowed(now, zone, start, end, frozenset(quiet_days))


@functools.lru_cache(maxsize=4096)
def _next_allowed(
    now: dt.datetime, zone: ZoneInfo, start: dt.time, end: dt.time, days: frozenset[int]
) -> dt.datetime:
    if len(days) >= 7:
        raise ValueError("every weekday is quiet: nothing could ever be sent")
    candidate = now.astimezone(dt.UTC)
    for _ in range(SEARCH_DAYS * 3):
        local = candidate.astimezone(zone)
        if not is_quiet(local, start, end, days):
            return candidate
        candidate = _next_boundary(local, start, end, days).astimezone(dt.UTC)
    raise AssertionError("no allowed moment found")  # unreachable with fewer than 7 quiet days


def _next_boundary(local: dt.datetime, start: dt.time, end: dt.time, days: set[int]) -> dt.datetime:
    """The next local moment that could end the quiet spell `local` is in."""
    zone = local.tzinfo
    if local.isoweekday() in days:
        return _wall(local.date() + dt.timedelta(days=1), dt.time(0, 0), zone)
    end_today = _wall(local.date(), end, zone)
    if end_today > local:
        return end_today
    return _wall(local.date() + dt.timedelta(days=1), end, zone)


def _wall(day: dt.date, clock: dt.time, zone: dt.tzinfo | None) -> dt.datetime:
    """A wall-clock time on a day; in a DST gap, the first real moment after it."""
    moment = dt.datetime.combine(day, clock, tzinfo=zone)
    real = moment.astimezone(dt.UTC).astimezone(zone)
    if real.replace(tzinfo=None) != moment.replace(tzinfo=None):
        # The wall time does not exist (clocks jumped over it): the gap ends at the jump.
        return _gap_end(moment)
    return moment


def _gap_end(moment: dt.datetime) -> dt.datetime:
    """The instant the clocks jumped over a nonexistent wall time."""
    zone = moment.tzinfo
    before = moment.replace(fold=0).astimezone(dt.UTC)
    after = moment.replace(fold=1).astimezone(dt.UTC)
    low, high = min(before, after), max(before, after)
    while high - low > dt.timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset():
            low = middle
        else:
            high = middle
    return high.astimezone(zone)
