"""Python client for the apn REST API v1 (see :mod:`integrations.apn_client.client`)."""

from integrations.apn_client.client import (
    BULK_CHUNK,
    ApiError,
    ApnClient,
    AuthError,
    BulkResult,
    Reply,
    TransportError,
    parse_retry_after,
)

__all__ = [
    "BULK_CHUNK",
    "ApiError",
    "ApnClient",
    "AuthError",
    "BulkResult",
    "Reply",
    "TransportError",
    "parse_retry_after",
]
