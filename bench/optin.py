"""The storefront opt-in API under gunicorn: distinct buyers' opt-ins at a fixed open-loop rate.

Starts gunicorn (sync workers, behind one trusted proxy as in production) on a throwaway
PostgreSQL database with one Shopify shop, its default wordings and an approved confirmation
template. Fires opt-ins the way the widget posts them (JSON from the shop's origin, the
wording version the form showed, a browser's User-Agent, the buyer's address in
X-Forwarded-For): distinct buyers with valid mobile numbers of several countries, typed the way
buyers type them. Requests are due at a steady rate and never wait for answers, so a slow
answer makes the next ones queue and the latency shows it (latency = answer - moment due).

Prints the machine, the achieved rate, p50/p99/max, the gunicorn processes' CPU per opt-in and
that of the database backends (from /proc), with GET /healthz at the same rate as the baseline
in the same run; the SQL statements one opt-in costs (counted with SQLAlchemy events through
the Flask test client on the same database, before gunicorn starts); then checks that every
opt-in was recorded exactly once with its proof (wording version, source, locale, IP, user
agent) and that each has its double opt-in confirmation (an outbox row in template mode, a code
in link mode).

    .venv/bin/python -u bench/optin.py [--rate 100] [--seconds 20] [--workers 4]
        [--mode template|link] [--profile N] [--postgres-admin-url URL]

`--profile N` also profiles N opt-ins in this process (Flask test client, cProfile) and prints
the functions that took the most time.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import itertools
import json
import os
import pstats
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import phonenumbers  # noqa: E402
from phonenumbers import PhoneNumberFormat, PhoneNumberType  # noqa: E402
from sqlalchemy import event, func, select  # noqa: E402

from bench.webhooks import (  # noqa: E402
    KEY,
    backend_pids,
    children,
    fire,
    free_port,
    machine,
    report,
    start_gunicorn,
)
from plugin import create_app, migrate  # noqa: E402
from plugin.consent import wording  # noqa: E402
from plugin.db import get_database  # noqa: E402
from plugin.models import (  # noqa: E402
    ConsentEvent,
    Customer,
    Flow,
    Notification,
    Store,
    Subscription,
    WhatsAppAccount,
    WhatsAppTemplate,
)

DOMAIN = "bench-shop.myshopify.com"
ORIGIN = f"https://{DOMAIN}"
#: Where the shop's buyers come from; the shop is German, so Germans type national numbers.
REGIONS = ("DE", "AT", "CH", "NL", "FR", "IT", "ES", "PL", "GB", "US")
AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/142.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like"
    " Gecko) Version/18.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:145.0) Gecko/20100101 Firefox/145.0",
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/142.0.0.0 Mobile Safari/537.36",
)
#: Every third buyer is logged in (the widget sends the customer id), every second has a cart.
CUSTOMERS = 3


@dataclass(frozen=True)
class Buyer:
    typed: str
    e164: str
    ip: str
    agent: str
    locale: str
    customer_id: str | None
    cart_token: str | None


def mobile_numbers(count: int) -> list[tuple[str, str]]:
    """(as typed, E.164) for `count` distinct valid mobile numbers across REGIONS."""
    found: list[tuple[str, str]] = []
    seen: set[str] = set()
    bases = {
        region: phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
        for region in REGIONS
    }
    for n in itertools.count():
        region = REGIONS[n % len(REGIONS)]
        base = bases[region]
        number = phonenumbers.PhoneNumber(
            country_code=base.country_code,
            national_number=base.national_number + 7919 * (n // len(REGIONS)) % 10**5,
        )
        if not phonenumbers.is_valid_number(number) or phonenumbers.number_type(number) not in (
            PhoneNumberType.MOBILE,
            PhoneNumberType.FIXED_LINE_OR_MOBILE,
        ):
            continue
        e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
        if e164 in seen:
            continue
        seen.add(e164)
        style = PhoneNumberFormat.NATIONAL if region == "DE" else PhoneNumberFormat.INTERNATIONAL
        found.append((phonenumbers.format_number(number, style), e164))
        if len(found) == count:
            return found
    raise AssertionError("unreachable")


def buyers(count: int, offset: int = 0) -> list[Buyer]:
    """Distinct buyers: each with their own number and address; some logged in, some carts."""
    result = []
    for n, (typed, e164) in enumerate(mobile_numbers(offset + count)[offset:], start=offset):
        result.append(
            Buyer(
                typed=typed,
                e164=e164,
                ip=f"198.{18 + n // 65_000 % 2}.{n // 250 % 250}.{n % 250 + 1}",
                agent=AGENTS[n % len(AGENTS)],
                locale="de" if e164.startswith(("+49", "+43", "+41")) else "en",
                customer_id=str(9_000_000 + n) if n % CUSTOMERS == 0 else None,
                cart_token=f"Z2NwLWV1cm9wZS13ZXN0{n:08d}" if n % 2 == 0 else None,
            )
        )
    return result


def body_of(buyer: Buyer, versions: dict[str, int]) -> bytes:
    """What widget.js posts (its JSON.stringify, nulls included)."""
    return json.dumps(
        {
            "phone": buyer.typed,
            "consent": True,
            "wording_version": versions[buyer.locale],
            "locale": buyer.locale,
            "source": "widget",
            "customer_id": buyer.customer_id,
            "cart_token": buyer.cart_token,
        },
        separators=(",", ":"),
    ).encode()


def headers_of(buyer: Buyer) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Origin": ORIGIN,
        "User-Agent": buyer.agent,
        "Accept-Language": "de-DE,de;q=0.9,en;q=0.8" if buyer.locale == "de" else "en-GB,en",
        "X-Forwarded-For": buyer.ip,
    }


def app_config(url: str, instance: Path) -> dict[str, Any]:
    return {
        "instance_path": instance,
        "database_url": url,
        "secret_key": "bench",
        "encryption_keys": (KEY,),
        "encryption_keys_in_instance": False,
        "log_level": "WARNING",
        "trusted_proxies": 1,
    }


def prepare(url: str, instance: Path, mode: str, customers: int) -> str:
    """The shop, its default wordings, its WhatsApp number and approved confirmation template."""
    migrate.upgrade(url)
    app = create_app(app_config(url, instance))
    with get_database(app).session() as session:
        store = Store(
            platform="shopify",
            domain=DOMAIN,
            name="Bench Rösterei",
            credentials={},
            settings={"double_optin_mode": mode},
            privacy_url=f"{ORIGIN}/policies/privacy-policy",
        )
        session.add(store)
        session.flush()
        wording.ensure_default_wordings(session, store)
        session.add(
            WhatsAppAccount(
                store_id=store.id,
                phone_number_id="100000001",
                waba_id="200000001",
                token="EAAG-bench",
                display_phone_number="+49 30 1234567",
                quality_rating="GREEN",
                dry_run=True,
            )
        )
        for language in ("de", "en"):
            session.add(
                WhatsAppTemplate(
                    store_id=store.id,
                    name="shopnudge_optin_confirmation",
                    language=language,
                    purpose="optin_confirmation",
                    category="UTILITY",
                    status="APPROVED",
                )
            )
        session.add_all(
            Customer(store_id=store.id, platform_id=str(9_000_000 + n))
            for n in range(0, customers, CUSTOMERS)
        )
        key = store.public_key
    get_database(app).dispose()
    return key


def form_versions(get: Any, key: str) -> dict[str, int]:
    """The wording version the widget's form shows, per locale (GET …/optin-form)."""
    versions = {}
    for locale in ("de", "en"):
        status, body = get(f"/api/v1/stores/{key}/optin-form?locale={locale}")
        assert status == 200, (status, body)
        versions[locale] = json.loads(body)["wording_version"]
    return versions


def count_statements(url: str, instance: Path, key: str, sample: list[Buyer], profile: int) -> int:
    """Statements per opt-in, counted in this process through the Flask test client."""
    app = create_app(app_config(url, instance))
    database = get_database(app)
    client = app.test_client()
    versions = form_versions(lambda path: _client_get(client, path), key)
    statements: list[str] = []

    def counted(*args: Any) -> None:
        statements.append(args[2])

    def post(buyer: Buyer) -> int:
        response = client.post(
            f"/api/v1/stores/{key}/optins",
            data=body_of(buyer, versions),
            headers=headers_of(buyer),
        )
        return response.status_code

    profiled, measured = sample[:profile], sample[profile:]
    if profiled:
        profiler = cProfile.Profile()
        profiler.enable()
        for buyer in profiled:
            assert post(buyer) == 202
        profiler.disable()
        stats = pstats.Stats(profiler)
        print(f"profile of {len(profiled)} opt-ins in this process (test client):")
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(25)
    event.listen(database.engine, "before_cursor_execute", counted)
    cpu = time.process_time()
    for buyer in measured:
        assert post(buyer) == 202
    cpu = time.process_time() - cpu
    event.remove(database.engine, "before_cursor_execute", counted)
    each = len(statements) / len(measured)
    print(
        f"statements: {each:.1f} per opt-in ({len(statements)} for {len(measured)} opt-ins"
        f" through the test client, {cpu / len(measured) * 1000:.2f} ms CPU each in-process)",
        flush=True,
    )
    kinds: dict[str, int] = {}
    for statement in statements:
        words = statement.split()
        verb = words[0]
        table = next(
            (words[i + 1] for i, w in enumerate(words[:-1]) if w in ("FROM", "INTO", "UPDATE")),
            "",
        )
        kinds[f"{verb} {table}".strip()] = kinds.get(f"{verb} {table}".strip(), 0) + 1
    print("  " + ", ".join(f"{name} {n / len(measured):.1f}" for name, n in sorted(kinds.items())))
    database.dispose()
    return len(sample)


def _client_get(client: Any, path: str) -> tuple[int, bytes]:
    response = client.get(path, headers={"Origin": ORIGIN})
    return response.status_code, response.data


def http_get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Origin": ORIGIN})
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def check_recorded(url: str, instance: Path, sent: list[Buyer], versions: dict[str, int]) -> None:
    """Every opt-in exactly once, with its proof, pending, with its confirmation on its way."""
    app = create_app(app_config(url, instance))
    database = get_database(app)
    expected = {buyer.e164: buyer for buyer in sent}
    problems: dict[str, int] = {}

    def wrong(what: str) -> None:
        problems[what] = problems.get(what, 0) + 1

    with database.session() as session:
        store = session.scalars(select(Store)).one()
        mode = store.setting("double_optin_mode")
        shown = {
            locale: wording.current_wording(session, store, locale).id  # type: ignore[union-attr]
            for locale in versions
        }
        rows = session.execute(
            select(Subscription, ConsentEvent).join(
                ConsentEvent, ConsentEvent.subscription_id == Subscription.id
            )
        ).all()
        events_per_phone: dict[str, int] = {}
        for subscription, consent in rows:
            events_per_phone[subscription.phone] = events_per_phone.get(subscription.phone, 0) + 1
            buyer = expected.get(subscription.phone)
            if buyer is None:
                wrong("subscription for a number nobody sent")
                continue
            if subscription.state != "pending" or subscription.pending_expires_at is None:
                wrong("not pending with an expiry")
            if (consent.kind, consent.source, consent.locale) != (
                "requested",
                "widget",
                buyer.locale,
            ):
                wrong("kind/source/locale")
            if consent.wording_id != shown[buyer.locale]:
                wrong("wording not the one shown")
            if consent.ip != buyer.ip or consent.user_agent != buyer.agent:
                wrong("IP or user agent")
            if consent.detail.get("cart_token") != buyer.cart_token:
                wrong("cart token")
            if (subscription.customer_id is not None) != (buyer.customer_id is not None):
                wrong("customer link")
            if mode == "link" and not subscription.confirmation_code:
                wrong("no confirmation code (link mode)")
        confirmations = session.execute(
            select(Notification.subscription_id, Notification.context, Notification.phone).where(
                Notification.flow == Flow.OPTIN_CONFIRMATION
            )
        ).all()
        event_of = {subscription.id: consent.id for subscription, consent in rows}
        confirmed = set()
        for subscription_id, context, phone in confirmations:
            if event_of.get(subscription_id) != context.get("requested_event_id") or not phone:
                wrong("confirmation row does not name its request")
            confirmed.add(subscription_id)
        subscriptions = session.scalar(select(func.count()).select_from(Subscription))
    database.dispose()
    missing = len(set(expected) - set(events_per_phone))
    twice = sum(1 for n in events_per_phone.values() if n != 1)
    unconfirmed = len(set(event_of) - confirmed) if mode == "template" else 0
    extra = len(confirmations) - len(confirmed)
    verdict = "ok" if not (problems or missing or twice or unconfirmed or extra) else "WRONG"
    print(
        f"recorded: {subscriptions:,} subscriptions, {len(rows):,} request events for"
        f" {len(expected):,} buyers sent; missing {missing}, recorded twice {twice},"
        f" proof problems {problems or 0}; confirmations ({mode}): {len(confirmations):,} outbox"
        f" rows, without one {unconfirmed}, duplicates {extra}: {verdict}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--mode", choices=("template", "link"), default="template")
    parser.add_argument("--profile", type=int, default=0, help="opt-ins to profile in-process")
    parser.add_argument(
        "--postgres-admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    print(f"machine: {machine()}", flush=True)
    os.environ["SHOPNUDGE_TEST_POSTGRES_ADMIN_URL"] = args.postgres_admin_url
    from tests.conftest import create_postgres_database, drop_postgres_database

    total = int(args.rate * args.seconds) + int(args.rate * 2)
    counted = 200 + args.profile
    everyone = buyers(counted + total)
    in_process, fired = everyone[:counted], everyone[counted:]
    url = create_postgres_database()
    name = url.rsplit("/", 1)[1]
    port = free_port()
    cpu, wall = time.process_time(), time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp)
        server = None
        try:
            key = prepare(url, instance, args.mode, len(everyone))
            count_statements(url, instance, key, in_process, args.profile)
            server = start_gunicorn(
                url, instance, port, args.workers, {"SHOPNUDGE_TRUSTED_PROXIES": "1"}
            )
            assert server is not None
            pids = lambda: ([server.pid, *children(server.pid)], backend_pids(url, name))  # noqa: E731
            versions = form_versions(lambda path: http_get(port, path), key)
            health = [("GET", "/healthz", None, {})] * int(args.rate * args.seconds)
            report("healthz", fire(port, health[: int(args.rate * 2)], args.rate, pids), args.rate)
            report("healthz", fire(port, health, args.rate, pids), args.rate)
            path = f"/api/v1/stores/{key}/optins"
            posts = [("POST", path, body_of(b, versions), headers_of(b)) for b in fired]
            countries = len(
                {phonenumbers.region_code_for_number(phonenumbers.parse(b.e164)) for b in fired}
            )
            print(
                f"{total:,} opt-ins (the first {int(args.rate * 2):,} a warm-up) from distinct"
                f" buyers ({countries} countries), {args.workers} sync workers,"
                f" double opt-in mode {args.mode}",
                flush=True,
            )
            warm = int(args.rate * 2)  # each worker's first opt-ins load phone metadata etc.
            report("warm-up", fire(port, posts[:warm], args.rate, pids), args.rate)
            report("optins", fire(port, posts[warm:], args.rate, pids), args.rate)
        finally:
            if server is not None:
                server.terminate()
                server.wait(30)
        check_recorded(url, instance, in_process + fired, versions)
        drop_postgres_database(url)
    print(
        f"bench process: {time.process_time() - cpu:.1f} CPU-s, {time.monotonic() - wall:.1f} s"
        " wall (load generator included)",
        flush=True,
    )


if __name__ == "__main__":
    main()
