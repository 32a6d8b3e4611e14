"""Runs the shared signature vectors (test/vectors/signatures.json and v1a.json) against wss_verify."""

import base64
import hashlib
import hmac
import http.server
import json
import pathlib
import sys
import threading

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from wss_verify import (  # noqa: E402
    JwksCache,
    JwksUnavailableError,
    Verdict,
    verify_v1a_signature,
    verify_wss_signature,
)

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


# --- Standard Webhooks v1a (ed25519) -------------------------------------------------------------------------

V1A_VECTORS = json.loads((VECTORS_PATH.parent / "v1a.json").read_text(encoding="utf-8"))["vectors"]


def test_v1a_vectors_are_loaded():
    assert len(V1A_VECTORS) > 20


@pytest.mark.parametrize("vector", V1A_VECTORS, ids=[v["name"] for v in V1A_VECTORS])
def test_v1a_vector(vector):
    verdict = verify_v1a_signature(
        jwks=vector["jwks"],
        msg_id=vector["id"],
        timestamp_header=vector["timestampHeader"],
        signature_header=vector["signatureHeader"],
        kid_header=vector["kidHeader"],
        body=base64.b64decode(vector["bodyBase64"]),
        now=vector["now"],
        tolerance_seconds=vector["toleranceSeconds"],
    )
    assert verdict == Verdict(valid=vector["expected"]["valid"], reason=vector["expected"]["reason"])


class _JwksServer:
    """A loopback JWKS server whose answer the test changes; counts its requests."""

    def __init__(self, jwks):
        self.jwks = jwks
        self.hits = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server API
                owner.hits += 1
                if owner.jwks is None:
                    self.send_response(503)
                    self.end_headers()
                    return
                body = json.dumps(owner.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _rotation_request():
    v = next(x for x in V1A_VECTORS if x["name"] == "rotation: receiver holds both keys")
    new_key, old_key = v["jwks"]["keys"]
    request = dict(
        msg_id=v["id"],
        timestamp_header=v["timestampHeader"],
        signature_header=v["signatureHeader"].split(" ")[0],
        kid_header=v["kidHeader"].split(" ")[0],
        body=base64.b64decode(v["bodyBase64"]),
        now=v["now"],
    )
    return new_key, old_key, request


def test_jwks_cache_refetches_for_an_unknown_kid_at_most_once_per_interval():
    new_key, old_key, request = _rotation_request()
    server = _JwksServer({"keys": [old_key]})
    clock = [1000.0]
    try:
        cache = JwksCache(server.url, clock=lambda: clock[0], min_refresh_seconds=30)
        cache.keys()
        assert server.hits == 1
        server.jwks = {"keys": [new_key, old_key]}
        assert cache.verify(**request).reason == "unknown_key"
        assert server.hits == 1
        clock[0] += 31
        assert cache.verify(**request) == Verdict(valid=True, reason="ok")
        assert server.hits == 2
        assert cache.verify(**request).valid
        assert server.hits == 2
    finally:
        server.close()


def test_jwks_cache_keeps_its_keys_when_a_refetch_fails_and_raises_without_any():
    new_key, _old_key, request = _rotation_request()
    server = _JwksServer({"keys": [new_key]})
    clock = [1000.0]
    try:
        cache = JwksCache(server.url, clock=lambda: clock[0], ttl_seconds=60)
        assert cache.verify(**request).valid
        server.jwks = None
        clock[0] += 61
        assert cache.verify(**request).valid
        with pytest.raises(JwksUnavailableError):
            JwksCache(server.url).keys()
    finally:
        server.close()
