"""How much hostile or careless input may weigh once it is inside the pipeline.

Text that quotes input (a finding about a 30 MB key, a YAML parser's message, an exception's
text) ends up on a run document (one Firestore document: at most 1 MiB), in a log line and
on the status page. Every such text is cut here, at the point it is recorded, so no input can
make a document, a log line or a page grow with its size. docs/ARCHITECTURE.md ("Bounds") lists
every bound and where it is enforced.
"""

from __future__ import annotations

#: A run's error message and a history note (what every status view prints).
MAX_MESSAGE_CHARS = 2000
#: One finding's message or JSON path (the report keeps at most `FindingLog.cap` per code).
MAX_FINDING_CHARS = 1000
#: Text quoted from somewhere else inside one of our messages: an exception's text (a step
#: failure, a dead letter), a YAML parser's complaint.
MAX_QUOTED_ERROR_CHARS = 300
#: Deliveries that may meet the same unclassified exception before the run ends FAILED: enough
#: for a flaky dependency to recover, few enough that the run says what failed within minutes
#: (the platform's own dead-letter limit is higher and would end it with less to say). Here, in
#: the domain, because the status views say "attempt 2 of 3" too.
MAX_UNEXPECTED_FAILURES = 3
#: How long a VALIDATING claim protects the validator from a concurrent duplicate. Longer than
#: the function timeout, so only a crashed winner's claim ever expires; the status views say
#: until when a redelivery waits for it.
VALIDATION_LEASE_SECONDS = 600
#: Firestore's limit on one document (https://cloud.google.com/firestore/quotas, checked
#: 2026-12-03: "Maximum size for a document: 1 MiB (1,048,576 bytes)").
FIRESTORE_MAX_DOCUMENT_BYTES = 1_048_576


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
