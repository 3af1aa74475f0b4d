"""Find and mask PII in free text and pseudonymise submitters."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)

HASH_PREFIX = "sha256:"

#: Fields of the normalized request that must keep their exact value: they are routing keys or URLs we call,
#: not free text (a callback URL with a masked segment would break delivery).
KEEP_FIELDS = frozenset({"callback_url", "project_id", "run_id", "correlation_id", "initiated_at", "submitter_hash"})


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _iban_ok(candidate: str) -> bool:
    compact = candidate.replace(" ", "")
    rotated = compact[4:] + compact[:4]
    try:
        return int("".join(str(int(char, 36)) for char in rotated)) % 97 == 1
    except ValueError:
        return False


def _digit_count(text: str) -> int:
    return sum(char.isdigit() for char in text)


# Each rule is (label, pattern, replacement or None for "[LABEL]", validator on the match or None).
# Order matters: secrets first (tokens contain digit runs that would otherwise look like phones or cards),
# then emails (an address may contain digits), then number-shaped ids from most to least specific.
_Rule = tuple[str, re.Pattern[str], str | None, Callable[[re.Match[str]], bool] | None]
_RULES: list[_Rule] = [
    # key=value secrets: keep the key so the log still says what was there.
    ("SECRET", re.compile(
        r"(?i)\b((?:password|passwd|pwd|secret|client_secret|api[_-]?key|access[_-]?key|auth[_-]?token|token)"
        r"\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&]+)"), r"\1[SECRET]", None),
    ("SECRET", re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]{8,}=*"), r"\1[SECRET]", None),
    # Vendor token shapes: Stripe, AWS access key ids, GitHub, Standard Webhooks secrets, Slack, JWTs.
    ("SECRET", re.compile(
        r"\b(?:(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,}"
        r"|A(?:KIA|SIA)[0-9A-Z]{16}"
        r"|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"
        r"|whsec_[A-Za-z0-9+/=]{16,}"
        r"|xox[abprs]-[A-Za-z0-9-]{10,}"
        r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})"), None, None),
    ("EMAIL", re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"), None, None),
    # Payment cards: 13-19 digits, optionally grouped by spaces or dashes, issuer digit 2-6, Luhn-valid.
    # The issuer and Luhn checks keep round money figures (1000000000000) unmasked.
    # A dash or dot before the digits means an id or a figure (RUN-20240101-120000), not a card.
    ("CARD", re.compile(r"(?<![\w.,-])[2-6]\d{3}(?:[ -]?\d){9,15}(?![\w.,]\d)"), None,
     lambda m: 13 <= _digit_count(m.group()) <= 19 and _luhn_ok(re.sub(r"\D", "", m.group()))),
    # IBAN (bank account, the EU's de-facto personal account id), mod-97 checked.
    ("IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"), None,
     lambda m: _iban_ok(m.group())),
    # US SSN, dashed or spaced (a bare 9-digit run is as likely an amount); area 000/666/9xx never issued.
    ("SSN", re.compile(r"\b(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}\b"), None, None),
    # UK National Insurance number: two prefix letters (D, F, I, Q, U, V never used), six digits, suffix A-D.
    ("NI", re.compile(r"\b(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"),
     None, None),
    # Generic government ids: a labelled number ("passport no. X1234567", "tax id: 12-3456789"). Without a label
    # an id is indistinguishable from a product code, so the label is what makes this safe to mask.
    ("GOV_ID", re.compile(
        r"(?i)\b((?:passport|national\s+id|id\s+card|driver'?s?\s+licen[cs]e|tax\s+id|ssn|nif|nie|dni"
        r"|aadhaar|social\s+security)(?:\s+(?:no\.?|number|#))?\s*[:#]?\s*)((?-i:[A-Z0-9][A-Z0-9 -]{4,18}[A-Z0-9]))\b"),
     r"\1[GOV_ID]", lambda m: _digit_count(m.group(2)) >= 4),
    # International phones: a leading + and 9-15 digits in groups (E.164 allows at most 15).
    ("PHONE", re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){1,6}(?![\w])"), None,
     lambda m: 9 <= _digit_count(m.group()) <= 15),
    # North American numbers need separators: a bare 10-digit run is more often money than a phone.
    ("PHONE", re.compile(r"(?<![\w(+-])(?:1[ .-])?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w-])"), None, None),
]


def find_pii(text: str) -> list[str]:
    """Labels of the PII kinds present in ``text`` (for tests and for counting), in rule order."""
    found = []
    for label, pattern, _, check in _RULES:
        if any(check is None or check(m) for m in pattern.finditer(text)):
            found.append(label)
    return found


def mask_text(text: str) -> str:
    """Replace every PII match in ``text`` by ``[LABEL]``; text without PII comes back unchanged."""
    for label, pattern, replacement, check in _RULES:
        def substitute(match: re.Match[str], label: str = label, replacement: str | None = replacement,
                       check: Callable[[re.Match[str]], bool] | None = check) -> str:
            if check is not None and not check(match):
                return match.group()
            return match.expand(replacement) if replacement else f"[{label}]"

        text = pattern.sub(substitute, text)
    return text


def mask_value(value: Any, keep: Iterable[str] = ()) -> Any:
    """Mask strings anywhere inside dicts, lists and tuples; keys in ``keep`` keep their values."""
    keep = frozenset(keep)
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {key: item if key in keep else mask_value(item, keep) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask_value(item, keep) for item in value)
    return value


def hash_submitter(submitter: str) -> str:
    """``sha256:<hex>`` of the trimmed, lower-cased submitter; a value already hashed is returned as is.

    Unsalted on purpose: ``smvm erase --submitter alice@example.com`` must find the same hash without a key that
    could be lost or rotated. It pseudonymises (the address is not stored) rather than anonymises.
    """
    if submitter.startswith(HASH_PREFIX):
        return submitter
    return HASH_PREFIX + hashlib.sha256(submitter.strip().lower().encode()).hexdigest()


def scrub_request(request: dict[str, Any]) -> dict[str, Any]:
    """Mask PII in every free-text field of a normalized request and pseudonymise its submitter.

    ``metadata.initiated_by`` (the legacy ``idea.submitter`` maps to it) becomes its hash, which is also exposed
    as ``metadata.submitter_hash`` for ``runs.submitter_hash``. Idempotent: scrubbing twice changes nothing.
    """
    scrubbed = mask_value(request, keep=KEEP_FIELDS | {"initiated_by"})
    metadata = scrubbed.get("metadata")
    if isinstance(metadata, dict):
        submitter = metadata.get("initiated_by")
        digest = hash_submitter(submitter) if isinstance(submitter, str) and submitter.strip() else None
        metadata["initiated_by"] = digest
        metadata["submitter_hash"] = digest
    return scrubbed
