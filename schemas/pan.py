"""Recognising card numbers (PANs), so that none is accepted as a token, stored or logged."""

from __future__ import annotations

import re

PAN_MIN_DIGITS = 13
PAN_MAX_DIGITS = 19

_SEPARATORS = str.maketrans("", "", " -")
# A run of 13-19 digits, single spaces or dashes allowed between them, not inside a longer
# digit run (a 24-digit reference is not a card number followed by noise).
_PAN_RUN = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check over a non-empty string of ASCII digits."""
    if not digits or not (digits.isascii() and digits.isdigit()):
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def looks_like_pan(value: str) -> bool:
    """True if `value`, ignoring spaces and dashes, is 13-19 digits passing the Luhn check.

    Random digit strings pass Luhn one time in ten, so this errs towards refusing: a token
    format that is all digits should not be used for card_token.
    """
    digits = value.translate(_SEPARATORS)
    return PAN_MIN_DIGITS <= len(digits) <= PAN_MAX_DIGITS and luhn_valid(digits)


def contains_pan(text: str) -> bool:
    """True if any digit run inside `text` looks like a PAN (for tokens and log lines)."""
    return any(looks_like_pan(match.group()) for match in _PAN_RUN.finditer(text))


def mask_pans(text: str) -> str:
    """`text` with every digit of each PAN-like run but the last four replaced by ``*``.

    For showing records to people: the run keeps its length and separators, so the shape
    of the data stays readable while the card number does not.
    """

    def _mask(match: re.Match[str]) -> str:
        run = match.group()
        if not looks_like_pan(run):
            return run
        keep = len(run.translate(_SEPARATORS)) - 4
        out = []
        for char in run:
            if char.isdigit() and keep > 0:
                out.append("*")
                keep -= 1
            else:
                out.append(char)
        return "".join(out)

    return _PAN_RUN.sub(_mask, text)
