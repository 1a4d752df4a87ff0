"""Meta's Resumable Upload API in the fake Graph API: upload sessions and file handles.

`POST /<version>/<APP_ID>/uploads?file_name=&file_length=&file_type=` opens a session
(`{"id": "upload:<SESSION>"}`); `POST /<version>/upload:<SESSION>` with `file_offset` and
`Authorization: OAuth <token>` takes the bytes and answers the handle (`{"h": "..."}`), which a
template's `example.header_handle` then names. Refused as Meta refuses: a missing or bad
parameter, a type Meta does not take, bytes that are not the announced length, an offset that
is not where the session stands.
https://developers.facebook.com/docs/graph-api/guides/upload
"""

from __future__ import annotations

import base64
import secrets
from typing import TYPE_CHECKING, Any

from flask import Flask, jsonify, request

if TYPE_CHECKING:
    from tests.fakes.meta import FakeMeta

#: The file types the upload API takes.
FILE_TYPES = frozenset({"application/pdf", "image/jpeg", "image/jpg", "image/png", "video/mp4"})


def _invalid(message: str) -> Any:
    body = {"error": {"message": f"(#100) {message}", "type": "OAuthException", "code": 100}}
    return jsonify(body), 400


def register_uploads(app: Flask, fake: FakeMeta) -> None:
    """Add the upload session routes to the fake's app; sessions and handles live on `fake`."""

    @app.post("/<version>/<app_id>/uploads")
    def open_upload(version: str, app_id: str) -> Any:
        name = request.args.get("file_name", "")
        length = request.args.get("file_length", "")
        file_type = request.args.get("file_type", "")
        if not name or not length.isdigit() or int(length) <= 0:
            return _invalid("file_name and a positive file_length are required")
        if file_type not in FILE_TYPES:
            return _invalid(f"file_type {file_type!r} is not supported")
        session_id = "upload:" + base64.urlsafe_b64encode(secrets.token_bytes(12)).decode()
        fake.upload_sessions[session_id] = {
            "app_id": app_id,
            "file_name": name,
            "file_length": int(length),
            "file_type": file_type,
            "data": b"",
        }
        return jsonify({"id": session_id})

    @app.post("/<version>/upload:<session>")
    def upload_bytes(version: str, session: str) -> Any:
        state = fake.upload_sessions.get(f"upload:{session}")
        if state is None:
            return _invalid("upload session does not exist")
        offset = request.headers.get("file_offset", "")
        if not offset.isdigit() or int(offset) != len(state["data"]):
            return _invalid(f"file_offset must be {len(state['data'])}")
        state["data"] += request.get_data()
        if len(state["data"]) != state["file_length"]:
            return _invalid("the bytes do not add up to file_length")
        handle = "4::" + base64.b64encode(secrets.token_bytes(18)).decode()
        fake.upload_handles[handle] = state
        return jsonify({"h": handle})
