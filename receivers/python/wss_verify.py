"""Verify ``X-WSS-Signature`` webhook signatures. Standard library only; copy this file into your project.

The signature is lowercase hex HMAC-SHA256, keyed with the secret's UTF-8 bytes, over the ``X-WSS-Timestamp``
header's digits immediately followed by the raw body bytes. During a secret rotation the header carries several
comma-separated signatures; any one matching is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Literal, Optional, Union

__all__ = ["Verdict", "Reason", "verify_wss_signature", "DEFAULT_TOLERANCE_SECONDS"]

Reason = Literal["ok", "bad_signature", "bad_timestamp", "timestamp_out_of_tolerance", "malformed_signature"]

DEFAULT_TOLERANCE_SECONDS = 300

# [0-9] rather than \d: \d matches any Unicode digit (e.g. full-width) unless re.ASCII is set. Used with fullmatch,
# because "$" also matches before a trailing newline.
_DIGITS = re.compile(r"[0-9]+")
_LOWER_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Verdict:
    """Outcome of a verification. ``reason`` codes are shared with the TypeScript and Go kits."""

    valid: bool
    reason: Reason


def verify_wss_signature(
    *,
    secret: str,
    timestamp_header: Optional[str],
    signature_header: Optional[str],
    body: Union[bytes, bytearray, memoryview, str],
    now: Optional[int] = None,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> Verdict:
    """Verify one request. Never raises on bad input.

    Checks run in the order timestamp syntax, tolerance, signature, so the reason names the first thing wrong.
    Signature entries must be exactly 64 lowercase hex digits; others (uppercase, wrong length) are skipped, and
    if none is well formed the verdict is ``malformed_signature``.

    :param secret: the endpoint secret exactly as shown by the sender.
    :param timestamp_header: the ``X-WSS-Timestamp`` value.
    :param signature_header: the ``X-WSS-Signature`` value.
    :param body: the raw request body, before any JSON parsing; a ``str`` is taken as UTF-8.
    :param now: current Unix time in seconds; defaults to the system clock.
    :param tolerance_seconds: allowed clock difference either way.
    """
    # int() alone would accept " 1700000000", "+1700000000", "1_700_000_000" and full-width digits; the digits are
    # signed bytes, so a lenient parse lets the timestamp/body boundary move.
    if not isinstance(timestamp_header, str) or _DIGITS.fullmatch(timestamp_header) is None:
        return _verdict("bad_timestamp")
    current = int(time.time()) if now is None else now
    if abs(current - int(timestamp_header)) > tolerance_seconds:
        return _verdict("timestamp_out_of_tolerance")

    candidates = [c.strip(" \t") for c in (signature_header or "").split(",")]
    well_formed = [c for c in candidates if _LOWER_HEX_SHA256.fullmatch(c)]
    if not well_formed:
        return _verdict("malformed_signature")
    # An empty key is a configuration mistake anyone could sign with; fail closed.
    if not secret:
        return _verdict("bad_signature")

    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    mac = hmac.new(secret.encode("utf-8"), timestamp_header.encode("ascii"), hashlib.sha256)
    mac.update(raw)
    expected = mac.hexdigest()
    # Compare every entry so timing does not reveal which one matched.
    matched = False
    for candidate in well_formed:
        if hmac.compare_digest(candidate, expected):
            matched = True
    return _verdict("ok" if matched else "bad_signature")


def _verdict(reason: Reason) -> Verdict:
    return Verdict(valid=reason == "ok", reason=reason)
