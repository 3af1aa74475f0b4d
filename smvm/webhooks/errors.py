"""Errors of the callbacks area."""

from __future__ import annotations

from smvm.errors import SmvmError


class DestinationRejectedError(SmvmError):
    """A callback URL fails the SSRF policy (scheme, port, or a private, loopback or metadata address)."""

    status = 400
    code = "CALLBACK_URL_REJECTED"


class DestinationUnresolvedError(DestinationRejectedError):
    """The callback host did not resolve when a delivery was attempted: DNS may be down for a while, so the delivery
    is retried on its schedule like a failed request, not dead-lettered at once."""


class DeliveryNotFoundError(SmvmError):
    status = 404
    code = "DELIVERY_NOT_FOUND"
