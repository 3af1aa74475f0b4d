"""Privacy: PII detection and masking, submitter pseudonymisation, and data-subject erasure."""

from smvm.privacy.pii import hash_submitter, mask_text, mask_value, scrub_request

__all__ = ["hash_submitter", "mask_text", "mask_value", "scrub_request"]
