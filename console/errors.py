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


class BadRequest(ConsoleError):
    """A query the page cannot run (a malformed id, date or page link)."""

    status = 400


class NotFound(ConsoleError):
    """No such transaction or account."""

    status = 404
