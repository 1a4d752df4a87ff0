"""Meta's Resumable Upload API: an image becomes a handle for a template's header example.

Two calls: open an upload session on the app (`POST /<APP_ID>/uploads` with the file's name,
length and type), then send the bytes to it (`POST /upload:<SESSION>` with `file_offset: 0`
and `Authorization: OAuth <token>`); the answer's `h` is the handle Meta's template review
takes as `example.header_handle`. It goes through client.py's connection pool and error
mapping, so Meta's error bodies arrive as the same SendError as every other call.
https://developers.facebook.com/docs/graph-api/guides/upload
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from plugin.config import Settings
from plugin.whatsapp.channel import TRANSPORT, SendError
from plugin.whatsapp.client import GraphClient

#: The image types Meta takes for a template header (JPEG, PNG), at most 5 MB.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})
IMAGE_MAX_BYTES = 5 * 1024 * 1024


def upload_header_image(token: str, settings: Settings, path: Path) -> str:
    """Upload the image at `path`; Meta's handle for it."""
    file_type = mimetypes.guess_type(path.name)[0] or ""
    if file_type not in IMAGE_TYPES:
        raise ValueError("the header image must be a JPEG or PNG file")
    data = path.read_bytes()
    if not data or len(data) > IMAGE_MAX_BYTES:
        raise ValueError("the header image must be between 1 byte and 5 MB")
    if not settings.whatsapp_app_id:
        raise ValueError("uploading needs the Meta app's id (WHATSAPP_APP_ID)")
    client = GraphClient(token, settings)
    session = client.request(
        "POST",
        f"{settings.whatsapp_app_id}/uploads",
        params={"file_name": path.name, "file_length": len(data), "file_type": file_type},
    )
    session_id = str(session.get("id") or "")
    if not session_id.startswith("upload:"):
        raise SendError(TRANSPORT, "upload session without id")
    answer = _send_bytes(client, session_id, data)
    handle = answer.get("h")
    if not handle:
        raise SendError(TRANSPORT, "upload without handle")
    return str(handle)


def _send_bytes(client: GraphClient, session_id: str, data: bytes) -> dict[str, object]:
    return client.request(
        "POST",
        session_id,
        data=data,
        extra_headers={
            "Authorization": f"OAuth {client.token}",
            "file_offset": "0",
            "Content-Type": "application/octet-stream",
        },
    )
