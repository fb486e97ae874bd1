"""Access tokens as the CRM issues them (djangorestframework-simplejwt defaults), read with PyJWT."""

from __future__ import annotations

from dataclasses import dataclass

import jwt
from django.conf import settings

REQUIRED_CLAIMS = ["exp", "iat", "jti", "token_type", "user_id"]
LEEWAY_SECONDS = 5


class TokenError(Exception):
    pass


@dataclass(frozen=True)
class AccessToken:
    user_id: int
    jti: str
    exp: float  # seconds since the epoch

    @property
    def valid_until(self) -> float:
        """When the token stops being accepted (``exp`` plus the leeway allowed for clock skew)."""
        return self.exp + LEEWAY_SECONDS


def access_token_decode(token: object) -> AccessToken:
    """Verify an HS256 access token with HUB_JWT_SIGNING_KEY; raise TokenError saying why not."""
    if not isinstance(token, str) or not token:
        raise TokenError("missing token")
    try:
        claims = jwt.decode(
            token,
            settings.HUB_JWT_SIGNING_KEY,
            algorithms=["HS256"],
            options={"require": REQUIRED_CLAIMS},
            leeway=LEEWAY_SECONDS,
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("token expired") from None
    except jwt.InvalidTokenError as exc:
        raise TokenError(f"invalid token ({exc})") from None
    if claims.get("token_type") != "access":
        raise TokenError("not an access token")
    try:
        user_id = int(claims["user_id"])
    except (TypeError, ValueError):
        raise TokenError("invalid user_id claim") from None
    return AccessToken(user_id=user_id, jti=str(claims["jti"]), exp=float(claims["exp"]))
