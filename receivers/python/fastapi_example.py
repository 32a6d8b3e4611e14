"""Example FastAPI receiver. Not imported by the tests; run with ``WSS_SECRET=... uvicorn fastapi_example:app``."""

import json
import os
from typing import Optional

from fastapi import FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse

from wss_verify import verify_wss_signature

app = FastAPI()
SECRET = os.environ["WSS_SECRET"]


@app.post("/webhooks")
async def receive_webhook(
    request: Request,
    x_wss_timestamp: Optional[str] = Header(default=None),
    x_wss_signature: Optional[str] = Header(default=None),
) -> Response:
    # Take the raw bytes, not a pydantic model: parsing first would lose the exact bytes that were signed.
    # Put a body size limit in front (proxy or ASGI middleware); request.body() buffers everything.
    body = await request.body()
    verdict = verify_wss_signature(
        secret=SECRET,
        timestamp_header=x_wss_timestamp,
        signature_header=x_wss_signature,
        body=body,
    )
    if not verdict.valid:
        return JSONResponse({"error": "invalid_signature", "reason": verdict.reason}, status_code=401)
    handle_event(json.loads(body))
    return Response(status_code=204)


def handle_event(event: dict) -> None:
    """Your logic. Retries resend the same event id (``event["id"]``, also ``X-WSS-Event-Id``), so be idempotent."""
