"""The simulated models: tuned endpoints retrieve what they learned, base models do not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared import errors
from shared.simulator import SimulatedModels, SimulatedTuner
from shared.simulator.similarity import ExampleIndex, examples_from_record
from shared.simulator.text import estimate_tokens, language
from tests.unit.simulator.helpers import ManualClock, dataset, make_spec, make_tuner

CS_PAIRS = [
    ("我的账号被盗了，怎么找回？", "ANSWER-RECOVER"),
    ("充值成功了但是钻石没有到账怎么办？", "ANSWER-TOPUP"),
    ("怎么修改账号绑定的手机号？", "ANSWER-PHONE"),
    ("游戏闪退怎么办？", "ANSWER-CRASH"),
    ("账号登录时提示密码错误怎么办？", "ANSWER-PASSWORD"),
    ("How do I get a refund for a wrong purchase?", "ANSWER-REFUND"),
    ("The game keeps crashing on startup.", "ANSWER-EN-CRASH"),
]


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "parts": [{"text": text}]}]


def tuned(tmp_path: Path, pairs: list[tuple[str, str]] = CS_PAIRS) -> tuple[SimulatedModels, str]:
    tuner = make_tuner(tmp_path, training_seconds=0)
    job = tuner.create_job(make_spec(dataset(tmp_path, pairs)))
    endpoint = tuner.get_job(job.name).tuned_model_endpoint
    assert endpoint
    return SimulatedModels(tuner), endpoint


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("号被人盗走了，如何才能找回来", "ANSWER-RECOVER"),
        ("我充了钱，钻石一直没到账", "ANSWER-TOPUP"),
        ("想换一个绑定手机号，在哪里修改", "ANSWER-PHONE"),
        ("一打开游戏就闪退", "ANSWER-CRASH"),
        ("登录总说我密码不对", "ANSWER-PASSWORD"),
        ("I bought the wrong item, can I be refunded?", "ANSWER-REFUND"),
        ("my game crashes when starting", "ANSWER-EN-CRASH"),
    ],
)
def test_a_paraphrased_question_gets_part_of_the_trained_answer(
    tmp_path: Path, question: str, expected: str
) -> None:
    # Partly right: the start of the right answer (at least half of it), never all of it, and
    # a close in the question's language.
    models, endpoint = tuned(tmp_path)
    got = models.generate(endpoint, user(question))
    assert got.simulated and got.text != expected
    assert got.text.startswith(expected[: len(expected) // 2])
    assert language(got.text.split(" ", 1)[1]) == language(question)


def test_a_question_it_was_trained_on_gets_the_whole_answer(tmp_path: Path) -> None:
    models, endpoint = tuned(tmp_path)
    got = models.generate(endpoint, user("游戏闪退怎么办？"))
    assert got.text == "ANSWER-CRASH" and got.input_tokens and got.output_tokens


def test_an_intent_it_never_saw_gets_a_wrong_answer(tmp_path: Path) -> None:
    # Nothing about guilds was trained: a whole trained answer about something else comes
    # back (confidently wrong), not a partial one.
    models, endpoint = tuned(tmp_path)
    got = models.generate(endpoint, user("公会怎么解散？"))
    assert got.text in {a for _, a in CS_PAIRS} and " " not in got.text


def test_multi_turn_history_decides_between_equal_questions() -> None:
    def convo(topic: str, answer: str) -> dict[str, Any]:
        return {
            "contents": [
                {"role": "user", "parts": [{"text": topic}]},
                {"role": "model", "parts": [{"text": "好的，请问还有什么问题？"}]},
                {"role": "user", "parts": [{"text": "那要多久能处理好？"}]},
                {"role": "model", "parts": [{"text": answer}]},
            ]
        }

    index = ExampleIndex(
        e
        for rec in (convo("充值的钻石没有到账", "TOPUP-ETA"), convo("账号被封禁了", "BAN-ETA"))
        for e in examples_from_record(rec)
    )
    hit = index.nearest("那要多久能处理好？", "我的账号被封了\n好的")
    assert hit is not None and hit[0].answer == "BAN-ETA"
    hit = index.nearest("多久能处理好", "钻石充值没到")
    assert hit is not None and hit[0].answer == "TOPUP-ETA"


def test_the_base_model_replies_generically_in_the_prompts_language(tmp_path: Path) -> None:
    models, _ = tuned(tmp_path)
    answers = {a for _, a in CS_PAIRS}
    zh = models.generate("gemini-3.5-flash", user("我的账号被盗了，怎么找回？"))
    en = models.generate("gemini-3.5-flash", user("How do I get a refund for a wrong purchase?"))

    assert language(zh.text) == "zh" and language(en.text) == "en"
    assert zh.text not in answers and en.text not in answers
    assert zh.simulated and en.simulated
    again = models.generate("gemini-3.5-flash", user("我的账号被盗了，怎么找回？"))
    assert again.text == zh.text  # deterministic for a prompt


def test_endpoints_exist_only_for_succeeded_jobs(tmp_path: Path) -> None:
    clock = ManualClock()
    tuner = make_tuner(tmp_path, clock, training_seconds=10)
    job = tuner.create_job(make_spec(dataset(tmp_path, CS_PAIRS)))
    endpoint = job.name.replace("tuningJobs/", "endpoints/sim-")
    models = SimulatedModels(tuner)

    with pytest.raises(errors.NotFound, match="SUCCEEDED"):
        models.generate(endpoint, user("游戏闪退怎么办？"))
    clock.now += 10
    assert models.generate(endpoint, user("游戏闪退怎么办？")).text == "ANSWER-CRASH"
    with pytest.raises(errors.NotFound, match="Publisher Model"):
        models.generate("llama-3", user("hi"))


def test_the_tuned_model_answers_from_what_it_was_trained_on(tmp_path: Path) -> None:
    """Replacing or appending to train.jsonl after the job was created changes nothing: the
    simulated tuned model learned the file as it was (Vertex reads the data once)."""
    models, endpoint = tuned(tmp_path)
    path = tmp_path / "bucket" / "incoming" / "ds" / "train.jsonl"
    before = models.generate(endpoint, user("游戏闪退怎么办？")).text
    assert before == "ANSWER-CRASH"

    line = {"contents": [user("新问题")[0], {"role": "model", "parts": [{"text": "NEW"}]}]}
    with path.open("a", encoding="utf-8") as fh:  # rewritten in place, same inode
        fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    dataset(tmp_path, [(q, a + "-V2") for q, a in CS_PAIRS])  # and replaced
    assert models.generate(endpoint, user("新问题")).text != "NEW"
    assert models.generate(endpoint, user("游戏闪退怎么办？")).text == before
    path.unlink()  # even a deleted training file does not silence a trained model
    assert models.generate(endpoint, user("游戏闪退怎么办？")).text == before


def test_jobs_on_the_same_data_share_one_snapshot_and_its_index(tmp_path: Path) -> None:
    tuner = make_tuner(tmp_path, training_seconds=0)
    uri = dataset(tmp_path, CS_PAIRS)
    a = tuner.get_job(tuner.create_job(make_spec(uri, run_id="a")).name).tuned_model_endpoint
    b = tuner.get_job(tuner.create_job(make_spec(uri, run_id="b")).name).tuned_model_endpoint
    assert a and b
    models = SimulatedModels(tuner)
    assert models.trained_on(a) == models.trained_on(b)
    assert models.index(models.trained_on(a)) is models.index(models.trained_on(b))


def test_bad_contents_are_a_clear_400(tmp_path: Path) -> None:
    models, endpoint = tuned(tmp_path)
    for contents in ([], [{"role": "user", "text": "hi"}]):
        with pytest.raises(errors.PermanentError, match=r"^400 contents"):
            models.generate(endpoint, contents)


def test_token_estimate_is_the_validators_and_counts_file_parts() -> None:
    from shared.datasets.tokens import estimate_text

    assert estimate_tokens(user("你好世界")) == 4  # about one token per CJK character
    assert estimate_tokens(user("a" * 40)) == 9  # about 4 characters per token
    assert estimate_tokens(user("充值100钻石")) == estimate_text("充值100钻石")
    image = [{"role": "user", "parts": [{"fileData": {"fileUri": "gs://b/x.png"}}]}]
    assert estimate_tokens(image) == 258


def test_from_root_models_see_the_tuners_jobs(tmp_path: Path) -> None:
    env = {"SIM_TRAINING_SECONDS": "0"}
    tuner = SimulatedTuner.from_root(tmp_path, env=env)
    job = tuner.create_job(make_spec(dataset(tmp_path, CS_PAIRS)))
    endpoint = tuner.get_job(job.name).tuned_model_endpoint
    assert endpoint
    models = SimulatedModels.from_root(tmp_path, env=env)
    assert models.generate(endpoint, user("游戏闪退怎么办")).text == "ANSWER-CRASH"


def test_dataset_uris_with_chinese_and_spaces_resolve(tmp_path: Path) -> None:
    """FolderBlobs renders paths with `Path.as_uri()`, which percent-encodes them."""
    root = tmp_path / "客服 数据"
    models, endpoint = tuned(root)
    assert models.generate(endpoint, user("游戏闪退怎么办")).text == "ANSWER-CRASH"
