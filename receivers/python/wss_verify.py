"""Verify webhook signatures from the Webhook Sender Service; copy this file into your project.

``verify_wss_signature`` checks ``X-WSS-Signature`` (standard library only): lowercase hex HMAC-SHA256, keyed with
the secret's UTF-8 bytes, over the ``X-WSS-Timestamp`` header's digits immediately followed by the raw body bytes.
During a secret rotation the header carries several comma-separated signatures; any one matching is enough.

``verify_v1a_signature`` and ``JwksCache`` check Standard Webhooks ``v1a`` signatures (ed25519 over
``{webhook-id}.{webhook-timestamp}.{body}``) with the sender's public keys, a JWKS. ed25519 comes from the
``cryptography`` package (Debian/Ubuntu: ``python3-cryptography``; or ``pip install cryptography``), imported only
when a v1a signature is checked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Literal, Mapping, Optional, Union

__all__ = [
    "Verdict",
    "Reason",
    "verify_wss_signature",
    "verify_v1a_signature",
    "JwksCache",
    "JwksUnavailableError",
    "DEFAULT_TOLERANCE_SECONDS",
]

Reason = Literal[
    "ok", "bad_signature", "bad_timestamp", "timestamp_out_of_tolerance", "malformed_signature", "unknown_key"
]

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


# ---------------------------------------------------------------------------------------------------------------
# Standard Webhooks ``v1a``: ed25519 signatures, verified with the sender's public keys (a JWKS).
# ---------------------------------------------------------------------------------------------------------------

# 64 signature bytes in standard, padded base64; a public key's x in base64url without padding (32 bytes).
_ED25519_SIGNATURE_B64 = re.compile(r"[A-Za-z0-9+/]{86}==")
_B64URL_32_BYTES = re.compile(r"[A-Za-z0-9_-]{43}")


def verify_v1a_signature(
    *,
    jwks: Mapping[str, Any],
    msg_id: Optional[str],
    timestamp_header: Optional[str],
    signature_header: Optional[str],
    kid_header: Optional[str],
    body: Union[bytes, bytearray, memoryview, str],
    now: Optional[int] = None,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> Verdict:
    """Verify the ``v1a`` (ed25519) signatures of a request against a JWKS. Never raises on bad input.

    Checks run in the order timestamp syntax, tolerance, signature entries, keys, signatures. ``unknown_key`` means
    no entry had a key to check it with: refetch the JWKS (``JwksCache`` does) before giving up.

    :param jwks: the sender's JWK set (``{"keys": [...]}``); only ``kty`` OKP, ``crv`` Ed25519 keys are used.
    :param msg_id: the ``webhook-id`` value.
    :param timestamp_header: the ``webhook-timestamp`` value.
    :param signature_header: the ``webhook-signature`` value; its ``v1a,<base64>`` entries are checked.
    :param kid_header: the ``webhook-signature-kid`` value (kid of each v1a entry, in order) or None: then every
        key of the JWKS is tried.
    :param body: the raw request body; a ``str`` is taken as UTF-8.
    """
    if not isinstance(timestamp_header, str) or _DIGITS.fullmatch(timestamp_header) is None:
        return _verdict("bad_timestamp")
    current = int(time.time()) if now is None else now
    if abs(current - int(timestamp_header)) > tolerance_seconds:
        return _verdict("timestamp_out_of_tolerance")

    # Kids pair with v1a entries by position, malformed entries included, so one bad entry cannot shift the rest.
    entries = [e[4:] for e in (signature_header or "").split(" ") if e.startswith("v1a,")]
    kids = [k for k in (kid_header or "").split(" ") if k]
    checkable = [
        (sig, kids[i] if i < len(kids) else None) if kids else (sig, None)
        for i, sig in enumerate(entries)
        if _ED25519_SIGNATURE_B64.fullmatch(sig)
    ]
    if not checkable:
        return _verdict("malformed_signature")

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    keys = []
    for jwk in jwks.get("keys", []) if isinstance(jwks, Mapping) else []:
        if not isinstance(jwk, Mapping) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            continue
        x = jwk.get("x")
        if not isinstance(x, str) or _B64URL_32_BYTES.fullmatch(x) is None:
            continue
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", "EdDSA") != "EdDSA":
            continue
        try:
            key = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "="))
        except ValueError:
            continue
        keys.append((jwk.get("kid"), key))

    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    content = f"{msg_id or ''}.{timestamp_header}.".encode("utf-8") + raw
    any_key = False
    for sig, kid in checkable:
        candidates = [key for key_kid, key in keys if kid is None or key_kid == kid]
        if candidates:
            any_key = True
        signature = base64.b64decode(sig)
        for key in candidates:
            try:
                key.verify(signature, content)
                return _verdict("ok")
            except InvalidSignature:
                pass
    return _verdict("bad_signature" if any_key else "unknown_key")


class JwksUnavailableError(Exception):
    """The JWKS could not be fetched and no earlier copy is held: answer 5xx so the sender retries later."""


_MAX_JWKS_BYTES = 64 * 1024


class JwksCache:
    """Fetches and caches a sender's JWKS and verifies ``v1a`` requests with it. Thread-safe.

    The set is refetched after ``ttl_seconds``, and early when a request names a key the cached set lacks (the
    sender rotated), at most once per ``min_refresh_seconds``. When a refetch fails the previous set is kept. Pin
    the URL in your configuration: never take it, or a key, from the request.
    """

    def __init__(
        self,
        url: str,
        *,
        ttl_seconds: float = 300,
        min_refresh_seconds: float = 30,
        timeout_seconds: float = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._ttl = ttl_seconds
        self._min_refresh = min_refresh_seconds
        self._timeout = timeout_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._jwks: Optional[Dict[str, Any]] = None
        self._fetched_at = 0.0

    def keys(self) -> Dict[str, Any]:
        """The JWKS, fetched when none is held or the held one is older than the TTL."""
        with self._lock:
            if self._jwks is not None and self._clock() - self._fetched_at < self._ttl:
                return self._jwks
            return self._refresh_locked()

    def verify(
        self,
        *,
        msg_id: Optional[str],
        timestamp_header: Optional[str],
        signature_header: Optional[str],
        kid_header: Optional[str],
        body: Union[bytes, bytearray, memoryview, str],
        now: Optional[int] = None,
        tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    ) -> Verdict:
        """Verify a request (see ``verify_v1a_signature``); on ``unknown_key`` refetch once (rate-limited) and retry.

        :raises JwksUnavailableError: when no JWKS could ever be fetched.
        """
        args = dict(
            msg_id=msg_id,
            timestamp_header=timestamp_header,
            signature_header=signature_header,
            kid_header=kid_header,
            body=body,
            now=now,
            tolerance_seconds=tolerance_seconds,
        )
        first = verify_v1a_signature(jwks=self.keys(), **args)
        if first.reason != "unknown_key":
            return first
        with self._lock:
            if self._jwks is not None and self._clock() - self._fetched_at < self._min_refresh:
                return first
            jwks = self._refresh_locked()
        return verify_v1a_signature(jwks=jwks, **args)

    def _refresh_locked(self) -> Dict[str, Any]:
        try:
            request = urllib.request.Request(self.url, headers={"Accept": "application/jwk-set+json, application/json"})
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                if response.status != 200:
                    raise ValueError(f"status {response.status}")
                text = response.read(_MAX_JWKS_BYTES + 1)
            if len(text) > _MAX_JWKS_BYTES:
                raise ValueError("JWKS too large")
            parsed = json.loads(text.decode("utf-8"))
            if not isinstance(parsed, dict) or not isinstance(parsed.get("keys"), list):
                raise ValueError("not a JWK set")
            self._jwks = parsed
            self._fetched_at = self._clock()
            return parsed
        except Exception as err:  # noqa: BLE001 - any fetch failure falls back to the keys held
            if self._jwks is not None:
                # Keep verifying with the keys held; try again after the minimum interval.
                self._fetched_at = max(self._fetched_at, self._clock() - self._ttl + self._min_refresh)
                return self._jwks
            raise JwksUnavailableError(f"could not fetch the JWKS from {self.url}: {err}") from None
