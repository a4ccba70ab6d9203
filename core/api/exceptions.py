"""API errors as JSON, never a 500 for what a client can send.

Database integrity errors that slip past validation (a race between two identical
requests) become 409 Conflict instead of an unhandled exception.
"""

from django.db import IntegrityError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is None and isinstance(exc, IntegrityError):
        return Response(
            {"detail": "The request conflicts with data that already exists."},
            status=status.HTTP_409_CONFLICT,
        )
    return response
