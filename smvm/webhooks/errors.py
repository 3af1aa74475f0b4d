"""Errors of the callbacks area."""

from __future__ import annotations

from smvm.errors import SmvmError


class DestinationRejectedError(SmvmError):
    """A callback URL fails the SSRF policy (scheme, port, or a private, loopback or metadata address)."""

    status = 400
    code = "CALLBACK_URL_REJECTED"


class DeliveryNotFoundError(SmvmError):
    status = 404
    code = "DELIVERY_NOT_FOUND"
