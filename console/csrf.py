"""CSRF protection: a synchronizer token per session, and a double-submit token for sign-in.

Signed in, every POST must carry the session's own token (``csrf_token`` form field, or the
``X-CSRF-Token`` header htmx sends from the page's meta tag); it lives only in the
server-side session record, so a forged request from another site cannot know it. The
sign-in form comes before any session: it pairs a random cookie with the same value in a
hidden field (double submit), which stops another site from signing a victim in to the
attacker's account. SameSite=Strict cookies are a second line behind both.
"""

from __future__ import annotations

import hmac

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
SIGNIN_COOKIE = "sentinel_console_signin"


def matches(expected: str | None, presented: str | None) -> bool:
    """Constant-time comparison; a missing or empty token on either side never matches."""
    if not expected or not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())
