"""Every part spelling the validator accepts reaches Vertex through the real client (issue 16,
defect 3): proto-plus's constructor knew only snake_case and raised `Unknown field for Part:
fileData` on the docs' own camelCase."""

from __future__ import annotations

from typing import Any

import pytest

from shared.datasets.format_rules import DATA_KEYS, PART_EXTRA_KEYS
from shared.errors import PermanentError
from shared.gcp.vertex import VertexModels
from tests.fakes.vertex_fake import VertexFake

FILE = {"mimeType": "image/png", "fileUri": "gs://b/cat.png"}
FILE_SNAKE = {"mime_type": "image/png", "file_uri": "gs://b/cat.png"}
CALL = {"name": "refund", "args": {"order": "A1", "amount": 6.0}}
ANSWER = {"name": "refund", "response": {"ok": True}}
INLINE = {"mimeType": "image/png", "data": "iVBORw0KGgo="}
INLINE_SNAKE = {"mime_type": "image/png", "data": "iVBORw0KGgo="}
#: part as written in a dataset -> part as the REST transport sends it (camelCase JSON).
VARIANTS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"text": "你好"}, {"text": "你好"}),
    ({"fileData": FILE}, {"fileData": FILE}),
    ({"file_data": FILE_SNAKE}, {"fileData": FILE}),
    # The REST API has FileData.displayName, the pinned client's proto not: a label, left out.
    ({"fileData": {**FILE, "displayName": "cat"}}, {"fileData": FILE}),
    ({"functionCall": CALL}, {"functionCall": CALL}),
    ({"function_call": CALL}, {"functionCall": CALL}),
    ({"functionResponse": ANSWER}, {"functionResponse": ANSWER}),
    ({"function_response": ANSWER}, {"functionResponse": ANSWER}),
    ({"inlineData": INLINE}, {"inlineData": INLINE}),
    ({"inline_data": INLINE_SNAKE}, {"inlineData": INLINE}),
    ({"text": "想一下", "thought": True}, {"text": "想一下", "thought": True}),
    ({"text": "x", "thoughtSignature": "c2ln"}, {"text": "x", "thoughtSignature": "c2ln"}),
    ({"text": "x", "thought_signature": "c2ln"}, {"text": "x", "thoughtSignature": "c2ln"}),
]


def test_the_variants_cover_every_part_key_the_validator_accepts() -> None:
    used = {k for part, _ in VARIANTS for k in part}
    assert used >= DATA_KEYS | PART_EXTRA_KEYS


@pytest.mark.parametrize(
    ("part", "wire"), VARIANTS, ids=lambda v: ",".join(v) if isinstance(v, dict) else ""
)
def test_each_part_spelling_becomes_the_documented_request(
    models: VertexModels, fake: VertexFake, part: dict[str, Any], wire: dict[str, Any]
) -> None:
    contents = [{"role": "user", "parts": [{"text": "看这个"}, part]}]
    models.generate("gemini-2.5-flash", contents)
    models.count_tokens("gemini-2.5-flash", contents)
    for route in ("generate", "count_tokens"):
        (sent,) = fake.requests_for(route)
        assert sent.body["contents"][0]["parts"][1] == wire


@pytest.mark.parametrize("key", ["systemInstruction", "system_instruction"])
def test_system_instructions_with_camel_and_snake_parts(
    models: VertexModels, fake: VertexFake, key: str
) -> None:
    system = {"role": "system", "parts": [{"text": "你是游戏客服。"}]}
    models.generate(
        "gemini-2.5-flash", [{"role": "user", "parts": [{"text": "hi"}]}], system_instruction=system
    )
    assert fake.requests_for("generate")[0].body["systemInstruction"]["parts"] == system["parts"]


def test_an_unknown_part_field_is_a_permanent_error_naming_it(models: VertexModels) -> None:
    contents = [{"role": "user", "parts": [{"text": "x", "fileDatum": FILE}]}]
    with pytest.raises(PermanentError, match="fileDatum"):
        models.generate("gemini-2.5-flash", contents)
