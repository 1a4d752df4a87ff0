"""A buyer is recognised in stored text however a platform spelled them, and nobody else is."""

from __future__ import annotations

import json

import pytest

from plugin.consent.traces import BuyerTraces

TRACES = BuyerTraces.of(
    phones=["+4915112340888"],
    emails=["juergen.mueller@example.org"],
    names=["Jürgen", "Müller"],
    addresses=["198.51.100.42"],
    region="DE",
)


@pytest.mark.parametrize(
    "text",
    [
        '{"phone": "+4915112340888"}',
        '{"phone": "0151 1234 0888"}',
        '{"phone": "0151/12340888"}',
        '{"phone": "(0151) 1234-0888"}',
        '{"phone": "+49 (0)151 1234 0888"}',
        '{"phone": "0049 151 12340888"}',
        '{"wa_id": "4915112340888"}',
        '{"phone": 4915112340888}',
        "Ruf mich an: +49 151 12340888, danke",
        '{"email": "Juergen.Mueller@EXAMPLE.org"}',
        json.dumps({"first_name": "JÜRGEN"}),  # ensure_ascii: "J\u00dcRGEN"
        json.dumps({"first_name": "Ju\u0308rgen"}, ensure_ascii=False),  # decomposed ü
        '{"note": "von m\\u00fcller"}',
        "first_name=J%C3%BCrgen&x=1",
        '{"browser_ip": "198.51.100.42"}',
    ],
)
def test_the_buyer_is_found_in_any_spelling(text: str) -> None:
    assert TRACES.found_in(text.encode()) is True


@pytest.mark.parametrize(
    "text",
    [
        '{"phone": "+4915112340889"}',  # another number
        '{"phone": "0151 1234 088"}',
        '{"order_id": 15112340},',
        '{"email": "juergen.mueller@example.com"}',
        '{"title": "Jürgens Kaffeemühle"}',  # a name inside a longer word is not the name
        '{"vendor": "Müllerei"}',
        '{"browser_ip": "198.51.100.4"}',
        "",
    ],
)
def test_other_text_is_not_taken_for_the_buyer(text: str) -> None:
    assert TRACES.found_in(text.encode()) is False


def test_a_buyer_without_identifiers_matches_nothing() -> None:
    nobody = BuyerTraces.of(phones=[], emails=[], names=[])
    assert not nobody
    assert nobody.found_in(b'{"phone": "+4915112340888"}') is False
