"""Example Flask receiver. Not imported by the tests; run with ``WSS_SECRET=... flask --app flask_example run``."""

import json
import os

from flask import Flask, jsonify, request

from wss_verify import verify_wss_signature

app = Flask(__name__)
# Bound what is buffered before the signature is checked.
app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
SECRET = os.environ["WSS_SECRET"]


@app.post("/webhooks")
def receive_webhook():
    # The signature covers the exact bytes; request.json would hand back parsed data instead.
    body = request.get_data(cache=True, as_text=False)
    verdict = verify_wss_signature(
        secret=SECRET,
        timestamp_header=request.headers.get("X-WSS-Timestamp"),
        signature_header=request.headers.get("X-WSS-Signature"),
        body=body,
    )
    if not verdict.valid:
        return jsonify(error="invalid_signature", reason=verdict.reason), 401
    handle_event(json.loads(body))
    return "", 204


def handle_event(event: dict) -> None:
    """Your logic. Retries resend the same event id (``event["id"]``, also ``X-WSS-Event-Id``), so be idempotent."""
