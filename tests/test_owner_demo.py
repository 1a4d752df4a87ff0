"""`shopnudge demo` opens on the owner's app with believable numbers."""

from __future__ import annotations

import re

from flask.testing import FlaskClient, FlaskCliRunner


def test_demo_prints_a_login_link_that_opens_its_dashboard(
    runner: FlaskCliRunner, client: FlaskClient
) -> None:
    result = runner.invoke(args=["demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    link = re.search(
        r"open the shop owner's app: http://shopnudge.test(/app/login/\S+)", result.output
    )
    assert link, result.output

    signed_in = client.get(link.group(1))
    html = client.get("/app/").get_data(as_text=True)

    assert signed_in.headers["Location"] == "/app/"
    assert "Bohne &amp; Blatt" in html
    sent = int(re.search(r'data-metric="sent">([\d,]+)<', html).group(1).replace(",", ""))
    assert 300 < sent < 2000
    assert 'data-metric="conversions"' in html
    assert 'data-metric="uplift"' in html
    assert html.count('<figure class="chart">') == 4


def test_first_page_offers_the_way_into_the_owners_app(
    runner: FlaskCliRunner, client: FlaskClient
) -> None:
    runner.invoke(args=["demo", "--no-serve"])

    html = client.get("/").get_data(as_text=True)

    assert '<a href="/app/">Open the shop owner\'s app</a>' in html
