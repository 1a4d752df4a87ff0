"""The demo shop's buyers: names, countries and mobile numbers, each with favourite categories.

Numbers are valid for their country but drawn at random, e-mails are at example.com: the
demo holds no real person's data.
"""

from __future__ import annotations

import datetime as dt
import random

import phonenumbers
from sqlalchemy.orm import Session

from plugin.demo.catalog import CATALOG, slug
from plugin.models import Customer, Store

#: (region, share of buyers, locale)
COUNTRIES = [
    ("DE", 45, "de"),
    ("AT", 12, "de"),
    ("CH", 8, "de"),
    ("NL", 10, "en"),
    ("FR", 8, "en"),
    ("GB", 8, "en"),
    ("ES", 5, "en"),
    ("PL", 4, "en"),
]

FIRST_NAMES = [
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Emma",
    "Felix",
    "Greta",
    "Hugo",
    "Ida",
    "Jonas",
    "Karla",
    "Leon",
    "Mia",
    "Noah",
    "Olga",
    "Paul",
    "Quirin",
    "Rosa",
    "Sofia",
    "Tim",
    "Ulla",
    "Vera",
    "Willem",
    "Xenia",
    "Yusuf",
    "Zoe",
    "Lucas",
    "Marie",
    "Elif",
    "Jan",
]
LAST_NAMES = [
    "Müller",
    "Schmidt",
    "Weber",
    "Fischer",
    "Becker",
    "Hoffmann",
    "de Vries",
    "Martin",
    "Dubois",
    "Smith",
    "Jones",
    "García",
    "Nowak",
    "Bauer",
    "Wagner",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Jansen",
    "Bernard",
    "Lopez",
    "Kowalski",
]


def _demo_phone(rng: random.Random, region: str) -> str:
    """A valid mobile number of the region, drawn from the seed: no real person's."""
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    national = str(example.national_number)
    for _ in range(200):
        tail = "".join(str(rng.randint(0, 9)) for _ in range(6))
        candidate = phonenumbers.PhoneNumber(
            country_code=example.country_code, national_number=int(national[:-6] + tail)
        )
        if phonenumbers.is_valid_number(candidate) and phonenumbers.number_type(candidate) in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        ):
            return phonenumbers.format_number(candidate, phonenumbers.PhoneNumberFormat.E164)
    raise RuntimeError(f"no valid demo mobile number for {region}")


def seed_customers(
    session: Session, store: Store, rng: random.Random, now: dt.datetime
) -> list[tuple[Customer, list[str]]]:
    """Three hundred buyers with distinct numbers, each with one or two favourite categories."""
    regions = [c for c, weight, _ in COUNTRIES for _ in range(weight)]
    locales = {c: locale for c, _, locale in COUNTRIES}
    categories = list(CATALOG)
    customers = []
    seen_phones: set[str] = set()
    for index in range(300):
        region = rng.choice(regions)
        phone = _demo_phone(rng, region)
        while phone in seen_phones:
            phone = _demo_phone(rng, region)
        seen_phones.add(phone)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        customer = Customer(
            store_id=store.id,
            platform_id=str(7_000_000_000 + index),
            phone=phone,
            email=f"{slug(first)}.{slug(last)}{index}@example.com",
            first_name=first,
            last_name=last,
            locale=locales[region],
            country=region,
            platform_updated_at=now - dt.timedelta(days=rng.randint(1, 180)),
        )
        session.add(customer)
        favourites = rng.sample(categories, k=rng.choice([1, 1, 2]))
        customers.append((customer, favourites))
    session.flush()
    return customers
