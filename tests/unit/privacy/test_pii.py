"""PII masking: a table of texts and their masked forms, including look-alikes that must stay untouched."""

from __future__ import annotations

import pytest

from smvm.privacy.pii import find_pii, hash_submitter, mask_text, mask_value, scrub_request

pytestmark = pytest.mark.unit

MASKED = [
    # emails
    ("write to jane.doe+smvm@example.co.uk today", "write to [EMAIL] today"),
    ("<ops@tb.io>", "<[EMAIL]>"),
    # phones, international and North American
    ("call +1 (415) 555-0123 now", "call [PHONE] now"),
    ("UK office +44 20 7946 0958.", "UK office [PHONE]."),
    ("E.164 +14155550123", "E.164 [PHONE]"),
    ("mobile +33 6 12 34 56 78", "mobile [PHONE]"),
    ("US 415-555-0123 or (415) 555-0123 or 415.555.0123", "US [PHONE] or [PHONE] or [PHONE]"),
    ("dial 1-800-555-0199", "dial [PHONE]"),
    # government ids
    ("SSN 123-45-6789", "SSN [SSN]"),
    ("ssn: 123 45 6789", "ssn: [SSN]"),
    ("NI number JG103759A", "NI number [NI]"),
    ("NI AB 12 34 56 C ok", "NI [NI] ok"),
    ("passport no. X1234567", "passport no. [GOV_ID]"),
    ("Tax ID: 12-3456789", "Tax ID: [GOV_ID]"),
    ("IBAN GB82 WEST 1234 5698 7654 32", "IBAN [IBAN]"),
    # payment cards (Luhn-valid)
    ("card 4111 1111 1111 1111 exp", "card [CARD] exp"),
    ("card 4111-1111-1111-1111", "card [CARD]"),
    ("amex 378282246310005", "amex [CARD]"),
    ("mc 5555555555554444.", "mc [CARD]."),
    # secrets
    ("key sk_live_4eC39HqLyjWDarjtT1zdp7dc", "key [SECRET]"),
    ("aws AKIAIOSFODNN7EXAMPLE", "aws [SECRET]"),
    ("gh ghp_abcdefghijklmnopqrstuvwxyz0123456789", "gh [SECRET]"),
    ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "[SECRET]"),
    ("Authorization: Bearer abc.def-ghi_123456", "Authorization: Bearer [SECRET]"),
    ("password=hunter2&user=x", "password=[SECRET]&user=x"),
    ('api_key: "s3cr3t value"', "api_key: [SECRET]"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcdefghijk", "jwt [SECRET]"),
]

UNTOUCHED = [
    "TAM of 5000000 dollars and SAM 1000000000000",
    "$5,000,000 TAM, 2,500,000 SAM",
    "Founded in 2024, launch 2025-03-01, plan 2024-2026",
    "+15% growth, 10-20 users, 3.5x return",
    "12 months at 99.99 per month",
    "version 1.2.3 on 192.168.100.200",
    "order 1234567890 shipped",  # a bare 10-digit run: an amount or id, not a phone
    "4111111111111112 fails Luhn",
    "a frying pan 2000 units, tin 12345 cans",
    "tax id 2024 Plan",
    "run RUN-20240101-120000-abcdef12 of PROJ-2024-001",
    "email-free text about an @handle and user@localhost",
    "ratio 123-456 and code 12-34-56",
]


@pytest.mark.parametrize(("text", "expected"), MASKED)
def test_masks_pii(text: str, expected: str) -> None:
    assert mask_text(text) == expected


@pytest.mark.parametrize("text", UNTOUCHED)
def test_leaves_look_alikes_alone(text: str) -> None:
    assert mask_text(text) == text
    assert find_pii(text) == []


def test_masking_is_idempotent() -> None:
    once = mask_text(" ".join(text for text, _ in MASKED))
    assert mask_text(once) == once


def test_mask_value_walks_containers_and_keeps_named_fields() -> None:
    value = {"a": ["x@y.com", ("+44 20 7946 0958",)], "callback_url": "https://x@y.com/cb", "n": 5}
    assert mask_value(value, keep={"callback_url"}) == {
        "a": ["[EMAIL]", ("[PHONE]",)], "callback_url": "https://x@y.com/cb", "n": 5,
    }


def test_hash_submitter_normalises_and_is_stable() -> None:
    digest = hash_submitter(" Alice@Example.com ")
    assert digest.startswith("sha256:") and len(digest) == 7 + 64
    assert digest == hash_submitter("alice@example.com") == hash_submitter(digest)


def test_parse_request_scrubs_text_and_hashes_the_submitter() -> None:
    from smvm.intake.validation import parse_request

    request = parse_request({
        "project_id": "PROJ-1",
        "business_idea": {"title": "Payroll for alice@example.com", "target_market": "SMBs",
                          "description": "Call +1 415 555 0123 or mail bob@example.org about payroll software."},
        "metadata": {"initiated_by": "Carol@Example.com", "callback_url": "https://tb.example.com/cb?u=a@b.co"},
        "correlation_id": "CORR-1",
    })
    assert request["idea"]["title"] == "Payroll for [EMAIL]"
    assert request["idea"]["description"] == "Call [PHONE] or mail [EMAIL] about payroll software."
    assert request["metadata"]["initiated_by"] == request["metadata"]["submitter_hash"] == hash_submitter("carol@example.com")
    assert request["metadata"]["callback_url"] == "https://tb.example.com/cb?u=a@b.co"
    assert request["correlation_id"] == "CORR-1" and request["project_id"] == "PROJ-1"
    assert scrub_request(request) == request


def test_legacy_submitter_is_hashed() -> None:
    from smvm.intake.validation import parse_request

    request = parse_request({"project_id": "P", "idea": {"description": "x", "submitter": "dan@example.com", "metadata": {}}})
    assert request["metadata"]["submitter_hash"] == hash_submitter("dan@example.com")
    assert "dan@example.com" not in repr(request)
