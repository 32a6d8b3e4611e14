"""Runs the shared signature vectors (test/vectors/signatures.json) against wss_verify."""

import base64
import hashlib
import hmac
import json
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from wss_verify import Verdict, verify_wss_signature  # noqa: E402

VECTORS_PATH = pathlib.Path(__file__).resolve().parents[2] / "test" / "vectors" / "signatures.json"
VECTORS = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))["vectors"]


def test_vectors_are_loaded():
    assert len(VECTORS) > 20


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector(vector):
    verdict = verify_wss_signature(
        secret=vector["secret"],
        timestamp_header=vector["timestampHeader"],
        signature_header=vector["signatureHeader"],
        body=base64.b64decode(vector["bodyBase64"]),
        now=vector["now"],
        tolerance_seconds=vector["toleranceSeconds"],
    )
    assert verdict == Verdict(valid=vector["expected"]["valid"], reason=vector["expected"]["reason"])


def _sign(secret: str, ts: str, body: bytes) -> str:
    return hmac.new(secret.encode(), ts.encode() + body, hashlib.sha256).hexdigest()


def test_missing_headers_are_rejected_without_raising():
    assert verify_wss_signature(secret="s", timestamp_header=None, signature_header="x", body=b"", now=1).reason == "bad_timestamp"
    assert verify_wss_signature(secret="s", timestamp_header="1", signature_header=None, body=b"", now=1).reason == "malformed_signature"


def test_empty_secret_rejects_everything():
    sig = _sign("", "100", b"b")
    assert verify_wss_signature(secret="", timestamp_header="100", signature_header=sig, body=b"b", now=100).reason == "bad_signature"


def test_str_body_is_taken_as_utf8():
    body = '{"name":"Zoë"}'
    sig = _sign("s", "100", body.encode("utf-8"))
    assert verify_wss_signature(secret="s", timestamp_header="100", signature_header=sig, body=body, now=100).valid
