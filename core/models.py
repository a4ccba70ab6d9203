from django.conf import settings
from django.db import models


class IdempotencyRecord(models.Model):
    """The first answer to an API request sent with an `Idempotency-Key`, replayed on retries.

    The row is claimed before the request is processed and filled in the same transaction,
    so a concurrent retry with the same key waits on the unique index and then replays."""

    key = models.CharField(max_length=128)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    endpoint = models.CharField(max_length=100)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(default=0)
    response_body = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "endpoint", "key"], name="idempotency_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.key}"
