"""Survey link tokens: 256 random bits, only their SHA-256 hash is stored."""

from __future__ import annotations

import hashlib
import re
import secrets

TOKEN_BYTES = 32  # 256 bits
# token_urlsafe(32) is always 43 characters of the URL-safe base64 alphabet.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def looks_like_token(token: str) -> bool:
    """True when ``token`` has the shape of one we issue (not whether it exists)."""
    return _TOKEN_SHAPE.fullmatch(token) is not None


def survey_link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/?t={token}"
