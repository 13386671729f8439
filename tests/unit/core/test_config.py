"""tuning.yaml and environment settings: every bad value is a clear ConfigError."""

from __future__ import annotations

import pytest

from shared.errors import ConfigError
from shared.settings import Settings
from shared.tuning_config import TuningConfig, parse_tuning_yaml

BASE = TuningConfig()


def parse(text: str) -> TuningConfig:
    return parse_tuning_yaml(text.encode(), source="tuning.yaml", base=BASE)


def test_empty_yaml_keeps_defaults() -> None:
    assert parse("") == BASE
    assert parse("# only a comment\n") == BASE


def test_overrides_apply_and_model_name_is_normalised() -> None:
    c = parse(
        "source_model_name: publishers/google/models/gemini-2.5-pro\n"
        "epoch: 5\nlearning_rate_multiplier: 0.5\nadapter_size: 8\n"
        "export_last_checkpoint_only: false\ntuned_model_display_name: cs-bot\n"
        "evaluation: {sample_size: 10, gates: {chrf: {min: 0.3}, rouge_l: {min_delta: 0.05}}}\n"
    )
    assert c.source_model_name == "gemini-2.5-pro"
    assert (c.epoch, c.learning_rate_multiplier, c.adapter_size) == (5, 0.5, 8)
    assert c.export_last_checkpoint_only is False
    assert c.evaluation.sample_size == 10
    assert c.evaluation.gates["chrf"].min == 0.3
    assert c.evaluation.gates["rouge_l"].min_delta == 0.05
    assert c.to_dict()["evaluation"]["gates"]["chrf"] == {
        "min": 0.3,
        "min_delta": None,
        "use_lower_bound": False,
    }


def test_evaluation_judge_is_off_by_default_and_must_be_a_boolean() -> None:
    assert BASE.evaluation.judge is False
    c = parse("evaluation: {judge: true}\n")
    assert c.evaluation.judge is True and c.to_dict()["evaluation"]["judge"] is True
    with pytest.raises(ConfigError, match=r"evaluation\.judge: expected true or false"):
        parse("evaluation: {judge: sometimes}\n")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("epochs: 3\n", "unknown key(s) 'epochs'"),
        ("epoch: 0\n", "epoch: 0 is out of range"),
        ("epoch: 2.5\n", "expected a whole number"),
        ("epoch: true\n", "expected a whole number"),
        ("learning_rate_multiplier: -1\n", "out of range"),
        ("learning_rate_multiplier: .nan\n", "expected a number"),
        ("adapter_size: 16\nsource_model_name: gemini-2.5-pro\n", "not supported for"),
        ("adapter_size: 32\n", "Use one of [1, 2, 4, 8, 16]"),
        ("source_model_name: gpt-4\n", "not a tunable Gemini model"),
        ("evaluation: {metrics: [bleu], gates: {chrf: {min: 0.2}}}\n", "not computed"),
        ("evaluation: {gates: {chrf: {max: 0.2}}}\n", "unknown key(s) 'max'"),
        ("evaluation: {sample_size: 0}\n", "out of range"),
        ("export_last_checkpoint_only: yes please\n", "expected true or false"),
        ("- a\n- b\n", "expected a mapping"),
        ("epoch: [\n", "invalid YAML at line"),
        ("!!python/object/apply:os.system ['true']\n", "invalid YAML"),
        ("validation_dataset: gs://x/v.jsonl\n", "the datasets are the files beside"),
    ],
)
def test_bad_values_name_the_key_and_the_fix(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse(text)
    assert needle in e.value.message
    assert e.value.message.startswith("tuning.yaml")


def test_size_cap_and_encoding() -> None:
    with pytest.raises(ConfigError, match="byte limit"):
        parse_tuning_yaml(b"# " + b"x" * 70_000, source="t.yaml", base=BASE)
    with pytest.raises(ConfigError, match="not UTF-8"):
        parse_tuning_yaml(b"epoch: \xff\n", source="t.yaml", base=BASE)


def test_settings_from_env() -> None:
    s = Settings.from_env(
        {
            "BACKEND": "gcp",
            "DATASETS_BUCKET": "ds",
            "MAX_CONCURRENT_JOBS": "3",
            "DEFAULT_SOURCE_MODEL": "gemini-2.0-flash",
            "DEFAULT_EPOCHS": "2",
            "DEFAULT_EVAL_SAMPLE_SIZE": "7",
        }
    )
    assert (s.backend, s.datasets_bucket, s.max_concurrent_jobs) == ("gcp", "ds", 3)
    assert s.defaults.source_model_name == "gemini-2.0-flash"
    assert s.defaults.epoch == 2
    assert s.defaults.evaluation.sample_size == 7


@pytest.mark.parametrize(
    "env",
    [
        {"BACKEND": "aws"},
        {"MAX_CONCURRENT_JOBS": "many"},
        {"DEFAULT_EPOCHS": "0"},
        {"DEFAULT_ADAPTER_SIZE": "3"},
        {"MAX_EVENT_AGE_SECONDS": "1"},
    ],
)
def test_bad_settings_are_config_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env(env)


def test_simulator_knobs_are_registered_settings() -> None:
    from shared.settings import LOCAL_ONLY_ENV
    from shared.simulator.config import ENV_VARS

    assert {k for k in LOCAL_ONLY_ENV if k.startswith("SIM_")} == set(ENV_VARS)


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as e:
        parse(text)
    return e.value.message


def test_unknown_key_at_the_top_has_no_empty_path_and_lists_only_usable_keys() -> None:
    msg = _error("epochs: 3\n")
    assert msg.startswith("tuning.yaml: unknown key(s) 'epochs'")
    assert "::" not in msg and ": :" not in msg
    assert "train_dataset" not in msg and "epoch" in msg


def test_every_problem_is_reported_not_only_the_first() -> None:
    msg = _error("epoch: 0\nlearning_rate_multiplier: -1\nbogus: 1\ndry_run: maybe\n")
    assert "4 problems" in msg
    for key in ("epoch", "learning_rate_multiplier", "'bogus'", "dry_run"):
        assert key in msg, key


def test_a_valid_model_and_adapter_pair_is_not_a_problem_when_another_key_is() -> None:
    msg = _error("source_model_name: gemini-2.5-pro\nadapter_size: 8\nepoch: 0\n")
    assert "adapter_size" not in msg and msg.startswith("tuning.yaml: epoch:")


def test_a_duplicate_key_is_refused_with_both_lines() -> None:
    msg = _error("epoch: 3\ndry_run: true\nepoch: 5\n")
    assert "'epoch' appears twice (first on line 1)" in msg and "line 3" in msg
    assert "appears twice" in _error("evaluation: {judge: true, judge: false}\n")


def test_a_nested_list_of_metrics_says_what_was_expected() -> None:
    msg = _error("evaluation: {metrics: [[bleu]]}\n")
    assert "list of metric names, got [['bleu']]" in msg


def test_ranges_read_as_words_not_interval_notation() -> None:
    msg = _error("evaluation: {gates: {bleu: {min: 2}}}\n")
    assert "Use a number from 0 to 1." in msg and "1e-12" not in msg
    assert parse("evaluation: {gates: {bleu: {min: 0}}}\n").evaluation.gates["bleu"].min == 0
    assert "above 0 up to 10" in _error("learning_rate_multiplier: 0\n")


def test_budget_and_training_time_limits_are_parsed_and_checked() -> None:
    c = parse("budget: {max_run_usd: 25}\nmax_training_hours: 6\n")
    assert c.budget.max_run_usd == 25.0 and c.max_training_hours == 6.0
    assert parse("epoch: 2\n").budget.max_run_usd is None
    for bad, says in (
        ("budget: {max_run_usd: -1}\n", "budget.max_run_usd: -1 is out of range"),
        ("budget: 5\n", "budget: expected a mapping"),
        ("budget: {max_usd: 5}\n", "budget: unknown key(s) 'max_usd'"),
        ("max_training_hours: 0\n", "max_training_hours: 0 is out of range"),
    ):
        with pytest.raises(ConfigError) as e:
            parse(bad)
        assert says in e.value.message, e.value.message


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"MAX_RUN_USD": "ten"}, "MAX_RUN_USD='ten' must be a number"),
        ({"MAX_MONTH_USD": "-5"}, "MAX_MONTH_USD='-5' is out of range"),
        ({"STUCK_AFTER_MINUTES": "0"}, "STUCK_AFTER_MINUTES"),
        ({"NOTIFY_FORMAT": "teams"}, "use one of slack, google_chat"),
        ({"NOTIFY_URL": "file:///etc/passwd"}, "NOTIFY_URL must be an https://"),
    ],
)
def test_guard_and_notify_settings_say_what_is_wrong(env: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError) as e:
        Settings.from_env(env)
    assert says in e.value.message, e.value.message


def test_guard_settings_empty_means_off() -> None:
    s = Settings.from_env({"MAX_RUN_USD": "", "MAX_TRAINING_HOURS": "2.5"})
    assert s.max_run_usd is None and s.max_training_hours == 2.5 and s.stuck_after_minutes is None


def test_evaluation_mode_and_batch_threshold() -> None:
    from shared.tuning_config import EvaluationConfig

    def ev(text: str) -> EvaluationConfig:
        return parse_tuning_yaml(text.encode(), source="t", base=TuningConfig()).evaluation

    auto = ev("evaluation: {batch_above: 100}\n")
    assert auto.mode == "auto" and auto.batch_above == 100
    assert auto.uses_batch(101) and not auto.uses_batch(100)
    assert ev("evaluation: {mode: batch}\n").uses_batch(1)
    assert not ev("evaluation: {mode: online, batch_above: 1}\n").uses_batch(5000)
    with pytest.raises(ConfigError, match=r"evaluation\.mode.*unknown mode"):
        ev("evaluation: {mode: offline}\n")
    with pytest.raises(ConfigError, match=r"evaluation\.batch_above"):
        ev("evaluation: {batch_above: 0}\n")
    cfg = parse_tuning_yaml(b"evaluation: {mode: batch, batch_above: 7}\n", source="t",
                            base=TuningConfig())  # fmt: skip
    import msgspec

    again = msgspec.convert(cfg.to_dict(), TuningConfig)  # how the run document reads it back
    assert (again.evaluation.mode, again.evaluation.batch_above) == ("batch", 7)
