"""`Idempotency-Key` handling for POST endpoints that must never act twice (payments).

Same key + same body → the first answer is replayed (with `Idempotent-Replayed: true`);
same key + another body → 422. The key is claimed in the same transaction as the work, so
a retry racing the original waits for it and then replays its answer.
"""

import hashlib
import json
from collections.abc import Callable

from django.db import transaction
from rest_framework import status
from rest_framework.response import Response

from core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 128


def _body_hash(data) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(record: IdempotencyRecord, body_hash: str) -> Response:
    if record.request_hash != body_hash:
        return Response(
            {"detail": f"This {HEADER} was used for a request with a different body."},
            status=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    response = Response(record.response_body, status=record.response_status)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(request, endpoint: str, handler: Callable[[], Response]) -> Response:
    """Run `handler` once per (user, endpoint, key); without a key, just run it."""
    key = request.headers.get(HEADER, "").strip()
    if not key:
        return handler()
    if len(key) > MAX_KEY_LENGTH:
        return Response(
            {"detail": f"{HEADER} is at most {MAX_KEY_LENGTH} characters."}, status=status.HTTP_400_BAD_REQUEST
        )
    body_hash = _body_hash(request.data)
    with transaction.atomic():
        record, created = IdempotencyRecord.objects.select_for_update().get_or_create(
            user=request.user, endpoint=endpoint, key=key, defaults={"request_hash": body_hash}
        )
        if not created:
            return _replay(record, body_hash)
        response = handler()
        if response.status_code >= 500:
            transaction.set_rollback(True)  # a failure is not an answer to keep: let a retry try again
            return response
        record.response_status = response.status_code
        record.response_body = response.data
        record.save(update_fields=["response_status", "response_body"])
        return response
