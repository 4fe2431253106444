"""Room tokens: who may join which room, and as whom (owner or member).

A token is ``room.user.role.expiry.signature`` (the first four base64url, the signature an
HMAC-SHA256 of them under the server's secret), so the server checks it without storing
tokens, and a token for one room never opens another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

ROLES = ("owner", "member")


class TokenError(ValueError):
    """A token that is malformed, forged, expired or for another room."""


@dataclass(frozen=True)
class Grant:
    """Who a valid token lets in: the user's name and role in the room."""

    room: str
    user: str
    role: str

    @property
    def owner(self) -> bool:
        return self.role == "owner"


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(part: str) -> str:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()


def _sign(secret: bytes, body: str) -> str:
    mac = hmac.new(secret, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def issue(secret: bytes, room: str, user: str, role: str = "member",
          ttl_s: float = 12 * 3600) -> str:
    """A token that lets ``user`` into ``room`` as ``role`` for ``ttl_s`` seconds."""
    if role not in ROLES:
        raise ValueError(f"role: {role!r} is not one of {', '.join(ROLES)}")
    if not room or not user:
        raise ValueError("room and user must not be empty")
    body = ".".join(_b64(x) for x in (room, user, role, f"{time.time() + ttl_s:.0f}"))
    return f"{body}.{_sign(secret, body)}"


def verify(secret: bytes, token: str, room: str) -> Grant:
    """The grant a token carries for ``room``, or TokenError saying what is wrong with it."""
    parts = token.split(".")
    if len(parts) != 5:
        raise TokenError("token: malformed (expected 5 dot-separated parts)")
    body, sig = ".".join(parts[:4]), parts[4]
    if not hmac.compare_digest(sig, _sign(secret, body)):
        raise TokenError("token: bad signature (not issued by this server)")
    try:
        t_room, user, role, expiry = (_unb64(p) for p in parts[:4])
        expires = float(expiry)
    except (ValueError, UnicodeDecodeError):
        raise TokenError("token: malformed fields") from None
    if t_room != room:
        raise TokenError(f"token: issued for room {t_room!r}, not {room!r}")
    if expires < time.time():
        raise TokenError("token: expired")
    if role not in ROLES:
        raise TokenError(f"token: unknown role {role!r}")
    return Grant(room, user, role)
