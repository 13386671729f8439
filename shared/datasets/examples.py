"""`iter_examples`: the valid examples of a file, decoded, for the steps that read a dataset
after it passed validation (evaluation prompts, conversion, previews).

Invalid lines are skipped silently here: the validator already reported them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from shared.catalog import DEFAULT_MODEL
from shared.datasets import lines
from shared.datasets.format_rules import check_example
from shared.datasets.json_errors import DECODE_ERRORS
from shared.datasets.lines import Batch, iter_batches, sniff
from shared.datasets.schema import any_decoder
from shared.datasets.validator import model_limits


def iter_examples(stream: BinaryIO, *, model: str = DEFAULT_MODEL) -> Iterator[tuple[int, Any]]:
    """(1-based line, decoded example) for each valid line; invalid lines are skipped.

    Raises ValueError when the file is compressed or binary (it was never validated).
    """
    limits = model_limits(model)
    head = stream.read(lines.HEAD_BYTES)
    if not head:
        return
    sn = sniff(head)
    if sn.problem:
        raise ValueError(sn.message)

    def ignore(code: str, path: str, message: str) -> None:
        return None

    for item in iter_batches(stream, head, 3 if sn.bom else 0):
        if not isinstance(item, Batch):
            continue
        for i, raw in enumerate(item.lines):
            try:
                obj = any_decoder.decode(raw)
            except DECODE_ERRORS:
                continue
            if check_example(obj, limits, ignore) is not None:
                yield item.first_line + i, obj
