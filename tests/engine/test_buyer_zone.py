"""Which zone a buyer's quiet hours are read in, from what is known of them."""

from __future__ import annotations

import pytest

from plugin.engine.localtime import buyer_zone


@pytest.mark.parametrize(
    ("phone", "zone"),
    [
        ("+4915123456789", "Europe/Berlin"),
        ("+447400123456", "Europe/London"),
        ("+447911123456", "Europe/Guernsey"),  # region GG: not the shop's Berlin
        ("+447797123456", "Europe/Jersey"),
        ("+447624123456", "Europe/Isle_of_Man"),
        ("+16502530000", "America/Los_Angeles"),  # the area code, not one zone for the US
        ("+12125550100", "America/New_York"),
    ],
)
def test_a_buyer_known_only_by_number_is_placed_by_the_numbering_plan(
    phone: str, zone: str
) -> None:
    assert buyer_zone("Europe/Berlin", phone=phone).key == zone


def test_the_address_country_and_the_buyers_own_zone_come_before_the_number() -> None:
    assert buyer_zone("Europe/Berlin", customer_country="FR", phone="+447400123456").key == (
        "Europe/Paris"
    )
    assert (
        buyer_zone(
            "Europe/Berlin",
            customer_zone="Asia/Tokyo",
            customer_country="FR",
            phone="+447400123456",
        ).key
        == "Asia/Tokyo"
    )


def test_an_unplaceable_buyer_gets_the_shops_zone() -> None:
    assert buyer_zone("America/Chicago", phone="+999").key == "America/Chicago"
