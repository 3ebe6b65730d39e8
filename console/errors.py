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
    """PostgreSQL, Redis or Kafka cannot be reached."""

    status = 503


class NotFound(ConsoleError):
    """No such thing: a rule, transaction, account or dead letter the page names."""

    status = 404


class Conflict(ConsoleError):
    """The thing changed since the page showed it, a name is taken, or the action does not
    fit its state (a case claimed by another or already resolved)."""

    status = 409


class BadRequest(ConsoleError):
    """A query the page cannot run (a malformed id, date or page link)."""

    status = 400


class Busy(ConsoleError):
    """The console runs as many of this kind of work (backtests) as it may at once."""

    status = 429
