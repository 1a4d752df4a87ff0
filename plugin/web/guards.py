"""Hostile input stops at the door with a 4xx, before any view reads it.

One place for what every route needs: JSON bodies nested beyond any real payload are refused
(the parsers recurse and would fail with a 500 deep inside a view), integer ids in URLs stay
within the database's integer range (beyond it the query itself fails), owner forms take form
bodies only, and a database that is busy answers 503 with `Retry-After` instead of hanging.
"""

from __future__ import annotations

import json
import logging
import operator
import re
from itertools import accumulate, repeat
from typing import Any

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import DataError, OperationalError
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.routing import IntegerConverter

log = logging.getLogger(__name__)

#: Real payloads nest a handful of levels (a Shopify order's line item tax price set is 6);
#: 32 leaves room for any of them and stops bodies built to exhaust the parser's stack.
MAX_JSON_DEPTH = 32
#: The largest id our INTEGER id columns hold on every engine (4 bytes on PostgreSQL).
MAX_DATABASE_INTEGER = 2**31 - 1
#: A client told the database is busy comes back after this many seconds.
BUSY_RETRY_AFTER_SECONDS = 2

#: A JSON string with its escapes; removed before counting brackets, which may be inside one.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
#: Opening brackets count +1 and closing ones -1 (as bytes 2 and 0, less one).
_BRACKETS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[{]}")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class BadJSON(ValueError):
    """The body is not JSON we accept; the message says why in one line."""


def json_depth(raw: bytes) -> int:
    """How deep a JSON text nests, counted without parsing it (so without recursion)."""
    brackets = _JSON_STRING.sub(b"", raw).translate(_BRACKETS, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(accumulate(map(operator.sub, brackets, repeat(1))))


def loads(raw: bytes | str) -> Any:
    """Parse a JSON body, refusing one nested deeper than MAX_JSON_DEPTH or not UTF-8."""
    data = raw.encode() if isinstance(raw, str) else raw
    if json_depth(data) > MAX_JSON_DEPTH:
        raise BadJSON(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise BadJSON("the body is not JSON") from None


class DatabaseIntConverter(IntegerConverter):
    """`<int:id>` that stops at the database's largest integer: a larger id is a 404."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_DATABASE_INTEGER)
        super().__init__(url_map, *args, **kwargs)


def refuse_deep_json() -> None:
    """Refuse any non-form body nested too deeply, whatever view would read it (400)."""
    if request.method in ("GET", "HEAD", "OPTIONS") or request.mimetype in _FORM_TYPES:
        return
    raw = request.get_data(cache=True)
    if raw and json_depth(raw) > MAX_JSON_DEPTH:
        raise BadRequest(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")


def refuse_non_form_posts() -> None:
    """Owner pages post HTML forms; any other body (JSON, text) is a 400, not a parser's 500."""
    if request.method in ("GET", "HEAD", "OPTIONS") or not request.path.startswith("/app/"):
        return
    if request.content_length and request.mimetype not in _FORM_TYPES:
        raise BadRequest("this page takes an HTML form (application/x-www-form-urlencoded)")


def refuse_nul_in_path() -> None:
    """No resource has a NUL in its name, and PostgreSQL refuses NUL in text (404)."""
    if "\x00" in request.path:
        raise NotFound()


def value_not_storable(error: DataError) -> Response:
    """A value the database cannot hold (NUL in text, a number out of range): the client's
    input, so 400; the request's transaction is rolled back when its session closes."""
    log.warning("refused a value the database cannot store: %s", type(error.orig).__name__)
    response = jsonify(error="bad_request", message="The request holds a value we cannot store.")
    response.status_code = 400
    return response


def database_busy(error: OperationalError) -> Response:
    """The database is locked or unreachable right now: 503, come back shortly."""
    log.warning("database busy or unavailable: %s", type(error.orig).__name__)
    response = jsonify(error="database_busy", message="The database is busy; retry shortly.")
    response.status_code = 503
    response.headers["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
    return response


def init_app(app: Flask) -> None:
    """Install the converter (before any blueprint adds rules) and the request guards."""
    app.url_map.converters["int"] = DatabaseIntConverter
    app.before_request(refuse_nul_in_path)
    app.before_request(refuse_deep_json)
    app.before_request(refuse_non_form_posts)
    app.register_error_handler(OperationalError, database_busy)
    app.register_error_handler(DataError, value_not_storable)
    from plugin.web import csrf  # imported here: it needs the models the app registers

    csrf.init_app(app)
