"""The console's root error and the few outcomes its pages map to HTTP (``console/app.py``)."""

from __future__ import annotations


class ConsoleError(Exception):
    """Root of every error the console raises on purpose."""

    status = 500


class NotSignedIn(ConsoleError):
    """No live session: pages redirect to the sign-in form, htmx requests get a 401."""

    status = 401


class Forbidden(ConsoleError):
    """Signed in, but the role is too low or the CSRF token is missing or wrong."""

    status = 403


class Unavailable(ConsoleError):
    """PostgreSQL or Redis cannot be reached."""

    status = 503


class NotFound(ConsoleError):
    """No such thing (a rule id that names no rule)."""

    status = 404


class Conflict(ConsoleError):
    """The thing changed since the page showed it, or a name is taken."""

    status = 409
