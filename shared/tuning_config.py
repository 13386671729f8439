"""The tuning configuration of one run: the `tuning.yaml` schema and its strict parser.

A run's config is resolved in two layers: the deployment's defaults (`shared.settings.Settings`,
from the environment Terraform sets) and the optional `tuning.yaml` beside the dataset, validated
strictly: unknown keys and out-of-range values are `ConfigError`s whose message says what to change.
The resolved `TuningConfig` is what the run record stores and every step reads.

The field names are the seed's (`source_model_name`, `epoch`, ...), so a team's existing
notebook parameters map one to one.
"""

from __future__ import annotations

import math
import re
import reprlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import yaml

from shared.bounds import MAX_QUOTED_ERROR_CHARS, clip
from shared.catalog import BUILTIN, DEFAULT_MODEL, Catalog
from shared.datasets.privacy import STRICTNESS, PrivacyOptions
from shared.errors import ConfigError

MAX_TUNING_YAML_BYTES = 64 * 1024
#: The most a tuning.yaml may weigh once its aliases are expanded: one unit per node plus one
#: per scalar character. A hand-written file (no aliases) weighs about its size, so 4x the byte
#: limit leaves room for reused anchors while a "billion laughs" file (nine anchors of nine
#: items: 387 million nodes from 640 bytes) is refused while it is composed, before anything
#: walks, prints or stores the expansion.
MAX_TUNING_YAML_WEIGHT = 4 * MAX_TUNING_YAML_BYTES
#: The overlap metrics the evaluator computes, in display order (the one list of their names).
EVAL_METRICS = ("exact_match", "bleu", "chrf", "rouge_l")
#: The customer-service rubric's dimensions (templates: shared/evaluation/rubric.py).
RUBRIC_DIMENSIONS = ("correctness", "policy", "tone", "language")
#: Gates on judge results: the pairwise win rate (0..1) and each rubric mean (1..5).
JUDGE_GATES = ("win_rate", *(f"rubric_{d}" for d in RUBRIC_DIMENSIONS))
MAX_EPOCHS = 50
MAX_LEARNING_RATE_MULTIPLIER = 10.0
MAX_DISPLAY_NAME = 128
MAX_RUN_USD = 1e7
MAX_TRAINING_HOURS = 24.0 * 31


@dataclass(frozen=True)
class Gate:
    """Pass condition on one metric: absolute `min` and/or `min_delta` over the base model.

    Metrics are on a 0..1 scale (BLEU and chrF included), so `min: 0.3` reads the same for all.
    """

    min: float | None = None
    min_delta: float | None = None
    #: Judge by the 95% confidence interval's lower bound instead of the point estimate: the
    #: tuned score's lower bound must reach `min`, the delta's lower bound `min_delta`.
    use_lower_bound: bool = False


@dataclass(frozen=True)
class EvaluationConfig:
    enabled: bool = True
    sample_size: int = 50
    metrics: tuple[str, ...] = EVAL_METRICS
    max_concurrency: int = 16  # calls in flight per evaluation; the adapters back off on 429
    gates: Mapping[str, Gate] = field(default_factory=dict)
    judge: bool = False  # pairwise autorater (Gen AI evaluation service): one paid call/example
    #: Pointwise customer-service rubric (1..5 per dimension) on tuned and base answers.
    rubric: bool = False
    rubric_dimensions: tuple[str, ...] = RUBRIC_DIMENSIONS
    #: Screen every exported checkpoint on a small sample and evaluate (and serve) the best.
    choose_checkpoint: bool = True
    checkpoint_metric: str = "chrf"
    checkpoint_sample_size: int = 20
    #: Make the run's model the production model when its evaluation passes every gate
    #: (`shared.pipeline.promote.maybe_auto_promote`); needs at least one gate.
    auto_promote: bool = False
    #: Also compare with the current production model, when there is one (its own gates:
    #: `production_gates`, e.g. {win_rate: {min: 0.55}}); every gate must pass to promote.
    compare_production: bool = True
    production_gates: Mapping[str, Gate] = field(default_factory=dict)
    #: Where the models answer: `online` (generateContent per example), `batch` (one Vertex AI
    #: batch inference job per model, at the batch discount, collected by the poller) or `auto`
    #: (batch when more than `batch_above` examples are evaluated).
    mode: str = "auto"
    batch_above: int = 1000

    def uses_batch(self, examples: int) -> bool:
        """Whether an evaluation of `examples` examples asks the models in batch jobs."""
        return self.mode == "batch" or (self.mode == "auto" and examples > self.batch_above)


#: `evaluation.mode` values.
EVAL_MODES = ("auto", "online", "batch")


@dataclass(frozen=True)
class ContinueFrom:
    """Continue tuning an already tuned model (Vertex `TuningJob.pre_tuned_model`): a run of
    this pipeline (`run`) or a tuned model resource (`model`), optionally at a checkpoint."""

    run: str | None = None
    model: str | None = None
    checkpoint: str | None = None


#: What the validator does about personal data: the one type the validator takes
#: (shared/datasets/privacy.py), so a tuning.yaml and a `--pii-pattern` obey the same rules.
Privacy = PrivacyOptions
PRIVACY_POLICIES = STRICTNESS


@dataclass(frozen=True)
class Budget:
    """This dataset's cost ceiling in USD (estimated; refused before any job when above).
    The deployment's `MAX_RUN_USD` still applies: the lower of the two wins."""

    max_run_usd: float | None = None


@dataclass(frozen=True)
class TuningConfig:
    """Everything the launcher and the evaluator need, fully resolved.

    `epoch`, `learning_rate_multiplier` and `adapter_size` stay None unless tuning.yaml (or the
    deployment) sets them: Vertex AI then applies its recommended values for the model and the
    dataset, and the values the job used are read back onto the run. Checkpoints are kept by
    default (`export_last_checkpoint_only: false`) so the best one can be chosen.
    """

    source_model_name: str = DEFAULT_MODEL
    train_dataset: str | None = None
    validation_dataset: str | None = None
    test_dataset: str | None = None
    tuned_model_display_name: str | None = None
    epoch: int | None = None
    learning_rate_multiplier: float | None = None
    adapter_size: int | None = None
    export_last_checkpoint_only: bool = False
    dry_run: bool = False
    continue_from: ContinueFrom | None = None
    privacy: Privacy = field(default_factory=Privacy)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    budget: Budget = field(default_factory=Budget)
    #: Cancel the tuning job after this many hours (the deployment's MAX_TRAINING_HOURS still
    #: applies: the lower wins).
    max_training_hours: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["evaluation"]["metrics"] = list(self.evaluation.metrics)
        d["evaluation"]["gates"] = {k: asdict(v) for k, v in self.evaluation.gates.items()}
        return d


_TOP_KEYS = {f for f in TuningConfig.__dataclass_fields__}
#: Filled in from the bucket layout by the validator, never from tuning.yaml.
DATASET_KEYS = ("train_dataset", "validation_dataset", "test_dataset")
_EVAL_KEYS = {f for f in EvaluationConfig.__dataclass_fields__}
_GATE_KEYS = {"min", "min_delta", "use_lower_bound"}


def _fail(where: str, problem: str, fix: str) -> ConfigError:
    return ConfigError(f"{where}: {problem}. {fix}" if where else f"{problem}. {fix}")


_ECHO = reprlib.Repr()
_ECHO.maxstring = _ECHO.maxother = 60
_ECHO.maxlist = _ECHO.maxdict = _ECHO.maxset = _ECHO.maxtuple = 4
_ECHO.maxlevel = 2


def echo(value: Any) -> str:
    """`repr(value)` cut to a few dozen characters: messages quote what the user wrote without
    ever walking (or storing) a huge value — a message lands on the run document and in logs."""
    return _ECHO.repr(value)


def check_int(where: str, v: Any, lo: int, hi: int) -> int:
    """A whole number in [lo, hi] (bools refused), else a `ConfigError` naming `where`."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise _fail(where, f"expected a whole number, got {echo(v)}", f"Use an integer {lo}..{hi}.")
    if not lo <= v <= hi:
        raise _fail(where, f"{v} is out of range", f"Use a value from {lo} to {hi}.")
    return v


#: `1e308`, `5E-3`: numbers to a person, text to YAML 1.1 (PyYAML) without a decimal point.
_YAML_1_1_TEXT_NUMBER = re.compile(r"^[-+]?[0-9]+(\.[0-9]*)?[eE][-+]?[0-9]+$")


def _float(where: str, v: Any, lo_exclusive: float, hi: float, *, lo: float | None = None) -> float:
    """A finite number above `lo_exclusive` (or from `lo`, inclusive) and at most `hi`."""
    span = f"from {lo:g} to {hi:g}" if lo is not None else f"above {lo_exclusive:g} up to {hi:g}"
    if isinstance(v, str) and _YAML_1_1_TEXT_NUMBER.match(v.strip()):
        raise _fail(
            where,
            f"{echo(v)} is read as text: YAML needs a decimal point in a number with an exponent",
            f"Write it like 1.0e+3 or as plain digits; use a number {span}.",
        )
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise _fail(where, f"expected a number, got {echo(v)}", f"Use a number {span}.")
    low_ok = float(v) >= lo if lo is not None else float(v) > lo_exclusive
    if not (low_ok and float(v) <= hi):
        raise _fail(where, f"{v} is out of range", f"Use a number {span}.")
    return float(v)


def _bool(where: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise _fail(where, f"expected true or false, got {echo(v)}", "Write true or false.")
    return v


def _str(where: str, v: Any, *, max_len: int = 1024) -> str:
    if not isinstance(v, str) or not v.strip():
        raise _fail(where, f"expected a non-empty string, got {echo(v)}", "Write a quoted string.")
    if len(v) > max_len:
        raise _fail(where, f"longer than {max_len} characters", "Shorten it.")
    return v.strip()


def _unknown(where: str, got: Mapping[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(got) - allowed, key=str)
    if extra:
        raise _fail(
            where,
            f"unknown key(s) {', '.join(map(echo, extra[:5]))}"
            + (f" and {len(extra) - 5} more" if len(extra) > 5 else ""),
            f"Allowed keys: {', '.join(sorted(allowed - set(DATASET_KEYS)))}.",
        )


def _gates(where: str, raw: Any, metrics: tuple[str, ...]) -> dict[str, Gate]:
    if not isinstance(raw, Mapping):
        raise _fail(where, "expected a mapping of metric -> {min, min_delta}", "See examples/.")
    out: dict[str, Gate] = {}
    for name, spec in raw.items():
        w = f"{where}.{name}"
        if name in JUDGE_GATES:
            out[name] = _judge_gate(w, name, spec)
            continue
        if name not in EVAL_METRICS:
            raise _fail(
                w, "unknown metric", f"Gate one of: {', '.join((*EVAL_METRICS, *JUDGE_GATES))}."
            )
        if name not in metrics:
            raise _fail(w, "gate on a metric that is not computed", "Add it to evaluation.metrics.")
        if not isinstance(spec, Mapping) or not spec:
            raise _fail(w, "expected {min: X} and/or {min_delta: X}", "Example: {min: 0.3}.")
        _unknown(w, spec, _GATE_KEYS)
        lo = spec.get("min")
        delta = spec.get("min_delta")
        lower = _bool(f"{w}.use_lower_bound", spec.get("use_lower_bound", False))
        if lower and lo is None and delta is None:
            raise _fail(
                f"{w}.use_lower_bound",
                "needs a threshold to compare the interval's lower bound with",
                "Add min and/or min_delta to this gate, e.g. {min_delta: 0.05, "
                "use_lower_bound: true}.",
            )
        out[name] = Gate(
            min=None if lo is None else _float(f"{w}.min", lo, 0.0, 1.0, lo=0.0),
            min_delta=None if delta is None else _float(f"{w}.min_delta", delta, -1.0, 1.0),
            use_lower_bound=lower,
        )
    return out


def _judge_gate(w: str, name: str, spec: Any) -> Gate:
    """`win_rate: {min: 0.55}` (share of pairwise wins over the base model, 0..1) or
    `rubric_<dimension>: {min: 4.0, min_delta: 0.5}` (mean rubric score, 1..5)."""
    if not isinstance(spec, Mapping) or not spec:
        raise _fail(w, "expected {min: X}", "Example: {min: 0.55}.")
    allowed = {"min"} if name == "win_rate" else {"min", "min_delta"}
    _unknown(w, spec, allowed)
    if name == "win_rate":
        return Gate(min=_float(f"{w}.min", spec["min"], 0.0, 1.0, lo=0.0))
    lo, delta = spec.get("min"), spec.get("min_delta")
    return Gate(
        min=None if lo is None else _float(f"{w}.min", lo, 1.0, 5.0, lo=1.0),
        min_delta=None if delta is None else _float(f"{w}.min_delta", delta, -4.0, 4.0),
    )


#: The evaluation's switches and bounded counts, parsed the same way (table-driven).
_EVAL_BOOLS = (
    "enabled", "judge", "rubric", "choose_checkpoint", "compare_production", "auto_promote",
)  # fmt: skip
_EVAL_INTS = {
    "checkpoint_sample_size": (1, 500),
    "sample_size": (1, 5000),
    "max_concurrency": (1, 64),
    "batch_above": (1, 5000),
}


def _names(where: str, raw: Any, allowed: tuple[str, ...], kind: str) -> tuple[str, ...]:
    """A non-empty list drawn from `allowed`, de-duplicated in order."""
    if not isinstance(raw, list) or not raw or not all(isinstance(x, str) for x in raw):
        raise _fail(
            where,
            f"expected a non-empty list of {kind} names, got {echo(raw)}",
            f"Use some of {list(allowed)}.",
        )
    bad = [x for x in raw if x not in allowed]
    if bad:
        raise _fail(where, f"unknown {kind}(s) {echo(bad)}", f"Use some of: {', '.join(allowed)}.")
    return tuple(dict.fromkeys(raw))


def _judge_gates(where: str, gates: Mapping[str, Gate], ev: EvaluationConfig) -> None:
    """A gate on a judge score needs that judge switched on."""
    for name in gates:
        if name == "win_rate" and not ev.judge:
            raise _fail(
                f"{where}.win_rate",
                "gates on the pairwise judge, which is off",
                "Add `judge: true` under evaluation (two paid judge calls per example: both "
                "orders).",
            )
        dim = name.removeprefix("rubric_")
        if name.startswith("rubric_") and not (ev.rubric and dim in ev.rubric_dimensions):
            raise _fail(
                f"{where}.{name}",
                f"gates on the rubric's {dim!r} score, which is not computed",
                "Add `rubric: true` under evaluation (and the dimension to rubric_dimensions).",
            )


def _evaluation(raw: Any, base: EvaluationConfig) -> EvaluationConfig:
    where = "evaluation"
    if raw is None:
        return base
    if not isinstance(raw, Mapping):
        raise _fail(where, "expected a mapping", "Indent its keys under `evaluation:`.")
    _unknown(where, raw, _EVAL_KEYS)
    ev = base
    for key in _EVAL_BOOLS:
        if key in raw:
            flag: dict[str, Any] = {key: _bool(f"{where}.{key}", raw[key])}
            ev = replace(ev, **flag)
    for key, (low, high) in _EVAL_INTS.items():
        if key in raw:
            count: dict[str, Any] = {key: check_int(f"{where}.{key}", raw[key], low, high)}
            ev = replace(ev, **count)
    if "rubric_dimensions" in raw:
        dims = _names(f"{where}.rubric_dimensions", raw["rubric_dimensions"], RUBRIC_DIMENSIONS,
                      "rubric dimension")  # fmt: skip
        ev = replace(ev, rubric_dimensions=dims)
    if "checkpoint_metric" in raw:
        metric = raw["checkpoint_metric"]
        if metric not in EVAL_METRICS:
            raise _fail(
                f"{where}.checkpoint_metric",
                f"unknown metric {echo(metric)}",
                f"Use one of: {', '.join(EVAL_METRICS)}.",
            )
        ev = replace(ev, checkpoint_metric=metric)
    if "mode" in raw:
        if raw["mode"] not in EVAL_MODES:
            raise _fail(
                f"{where}.mode",
                f"unknown mode {echo(raw['mode'])}",
                "Use auto (batch above batch_above examples), online or batch.",
            )
        ev = replace(ev, mode=raw["mode"])
    if "metrics" in raw:
        ev = replace(ev, metrics=_names(f"{where}.metrics", raw["metrics"], EVAL_METRICS, "metric"))
    for key in ("gates", "production_gates"):
        if key not in raw:
            continue
        gates = _gates(f"{where}.{key}", raw[key], ev.metrics)
        ev = replace(ev, gates=gates) if key == "gates" else replace(ev, production_gates=gates)
        _judge_gates(f"{where}.{key}", gates, ev)
    if ev.auto_promote and not ev.enabled:
        raise _fail(
            f"{where}.auto_promote",
            "needs the evaluation, which is disabled",
            "Set evaluation.enabled: true, or remove auto_promote.",
        )
    if ev.auto_promote and not ev.gates:
        raise _fail(
            f"{where}.auto_promote",
            "needs at least one gate (without gates every trained model would go to production)",
            "Add evaluation.gates, e.g. {chrf: {min_delta: 0.05, use_lower_bound: true}}.",
        )
    return ev


#: What the users' original config table suggested, and what Gemini tuning takes instead.
_SEED_ADAPTER_NAMES = ("SMALL", "MEDIUM", "LARGE", "ADAPTERSIZE.SMALL", "ADAPTERSIZE.MEDIUM")


def _adapter_size(raw: Any) -> int:
    if isinstance(raw, str) and raw.strip().upper() in _SEED_ADAPTER_NAMES:
        raise _fail(
            "adapter_size",
            f"{echo(raw)} is a size name from older tuning APIs; Gemini tuning takes a number",
            "Write 1, 2, 4, 8 or 16 (what the model accepts), or leave adapter_size out so "
            "Vertex AI picks its recommended size.",
        )
    return check_int("adapter_size", raw, 1, 64)


def privacy_section(raw: Any, where: str = "privacy") -> Privacy:
    """`privacy: {policy: warn|redact|reject, patterns: {name: regex}}`, checked strictly
    (the validator re-checks pattern names against its built-in kinds)."""
    if not isinstance(raw, Mapping):
        raise _fail(where, "expected {policy: ..., patterns: {...}}", "See docs/validator.md.")
    _unknown(where, raw, {"policy", "patterns"})
    policy = raw.get("policy", "warn")
    if policy not in PRIVACY_POLICIES:
        raise _fail(
            f"{where}.policy",
            f"unknown policy {echo(policy)}",
            f"Use {', '.join(PRIVACY_POLICIES)}.",
        )
    patterns = raw.get("patterns") or {}
    if not isinstance(patterns, Mapping):
        raise _fail(f"{where}.patterns", "expected a mapping of name -> regex", "")
    checked: dict[str, str] = {}
    for name, rx in patterns.items():
        checked[str(name)] = _str(f"{where}.patterns.{name}", rx)
    try:  # the validator's own rules: names, regex, empty matches
        return PrivacyOptions(policy, checked)
    except ValueError as e:
        raise _fail(f"{where}.patterns", str(e).rstrip("."), "See docs/validator.md.") from None


def _continue_from(raw: Any) -> ContinueFrom:
    where = "continue_from"
    if isinstance(raw, str):
        raw = {"model": raw} if "/" in raw else {"run": raw}
    if not isinstance(raw, Mapping):
        raise _fail(where, "expected {run: RUN_ID} or {model: TUNED_MODEL, checkpoint: ID}", "")
    _unknown(where, raw, {"run", "model", "checkpoint"})
    run = _str(f"{where}.run", raw["run"]) if raw.get("run") is not None else None
    model = _str(f"{where}.model", raw["model"]) if raw.get("model") is not None else None
    if (run is None) == (model is None):
        raise _fail(
            where,
            "name exactly one of run or model",
            "Write `continue_from: {run: RUN_ID}` to continue a run of this pipeline, or "
            "`continue_from: {model: projects/P/locations/L/models/ID}`.",
        )
    if model is not None and "/models/" not in model:
        raise _fail(
            f"{where}.model",
            f"{echo(model)} is not a tuned model resource",
            "Write projects/PROJECT/locations/LOCATION/models/ID (the job's tuned model).",
        )
    cp = raw.get("checkpoint")
    checkpoint = None if cp is None else _str(f"{where}.checkpoint", str(cp))
    return ContinueFrom(run=run, model=model, checkpoint=checkpoint)


def _budget(raw: Any) -> Budget:
    where = "budget"
    if not isinstance(raw, Mapping):
        raise _fail(
            where, f"expected a mapping, got {echo(raw)}", "Write `budget: {max_run_usd: 50}`."
        )
    _unknown(where, raw, {"max_run_usd"})
    limit = raw.get("max_run_usd")
    if limit is None:
        return Budget()
    return Budget(max_run_usd=_float(f"{where}.max_run_usd", limit, 0.0, MAX_RUN_USD))


def apply_overrides(
    base: TuningConfig, raw: Mapping[str, Any], *, source: str, catalog: Catalog = BUILTIN
) -> TuningConfig:
    """Validate `raw` (parsed YAML) and return `base` with it applied.

    `source` names the file in every error message so the user knows where to look. Model names
    are checked against `catalog` (the deployment's, with its overrides); whether the model can
    be tuned *today* (lifecycle, region) is the validator step's check, since it depends on the
    date and the deployment's region.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: expected a mapping of settings at the top level.")
    try:
        _unknown("", raw, _TOP_KEYS)
        c = base
        if "source_model_name" in raw:
            name = catalog.normalize(_str("source_model_name", raw["source_model_name"]))
            if catalog.get(name) is None and not catalog.allow_unlisted:
                raise _fail(
                    "source_model_name",
                    f"{echo(raw['source_model_name'])} is not a tunable Gemini model "
                    "this tool knows",
                    f"Use one of: {', '.join(catalog.models)} (`gemini-tuning models` shows "
                    "which can be tuned today).",
                )
            c = replace(c, source_model_name=name)
        for key in ("train_dataset", "validation_dataset", "test_dataset"):
            if key in raw and raw[key] is not None:
                overrides: dict[str, Any] = {key: _str(key, raw[key])}
                c = replace(c, **overrides)
        if "tuned_model_display_name" in raw and raw["tuned_model_display_name"] is not None:
            c = replace(
                c,
                tuned_model_display_name=_str(
                    "tuned_model_display_name",
                    raw["tuned_model_display_name"],
                    max_len=MAX_DISPLAY_NAME,
                ),
            )
        if "epoch" in raw:
            c = replace(c, epoch=check_int("epoch", raw["epoch"], 1, MAX_EPOCHS))
        if "learning_rate_multiplier" in raw:
            c = replace(
                c,
                learning_rate_multiplier=_float(
                    "learning_rate_multiplier",
                    raw["learning_rate_multiplier"],
                    0.0,
                    MAX_LEARNING_RATE_MULTIPLIER,
                ),
            )
        if "adapter_size" in raw:
            c = replace(c, adapter_size=_adapter_size(raw["adapter_size"]))
        if raw.get("continue_from") is not None:
            c = replace(c, continue_from=_continue_from(raw["continue_from"]))
        if "privacy" in raw:
            c = replace(c, privacy=c.privacy.combined(privacy_section(raw["privacy"])))
        if "export_last_checkpoint_only" in raw:
            c = replace(
                c,
                export_last_checkpoint_only=_bool(
                    "export_last_checkpoint_only", raw["export_last_checkpoint_only"]
                ),
            )
        if "dry_run" in raw:
            c = replace(c, dry_run=_bool("dry_run", raw["dry_run"]))
        if "evaluation" in raw:
            c = replace(c, evaluation=_evaluation(raw["evaluation"], c.evaluation))
        if "budget" in raw:
            c = replace(c, budget=_budget(raw["budget"]))
        if raw.get("max_training_hours") is not None:
            c = replace(
                c,
                max_training_hours=_float(
                    "max_training_hours", raw["max_training_hours"], 0.0, MAX_TRAINING_HOURS
                ),
            )
        check_adapter_size(c, catalog)
    except ConfigError as e:
        raise ConfigError(f"{source}: {e.message}") from None
    return c


def check_adapter_size(c: TuningConfig, catalog: Catalog = BUILTIN) -> None:
    """Vertex rejects an unsupported adapter size only after job creation (python-genai #908)."""
    lim = catalog.limits_for(c.source_model_name)
    if lim is not None and c.adapter_size is not None and c.adapter_size not in lim.adapter_sizes:
        raise _fail(
            "adapter_size",
            f"{c.adapter_size} is not supported for {c.source_model_name}",
            f"Use one of {list(lim.adapter_sizes)}.",
        )


def parse_tuning_yaml(
    data: bytes, *, source: str, base: TuningConfig, catalog: Catalog = BUILTIN
) -> TuningConfig:
    """Parse a `tuning.yaml` safely (size-capped, `yaml.safe_load`) and apply it to `base`."""
    if len(data) > MAX_TUNING_YAML_BYTES:
        raise ConfigError(
            f"{source}: {len(data)} bytes is larger than the {MAX_TUNING_YAML_BYTES} byte limit "
            "for a tuning.yaml. It holds settings only; keep examples in the JSONL files."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{source}: not UTF-8 text (byte {e.start}). Save it as UTF-8.") from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        fix = "" if isinstance(e, _Refused) else " Fix the syntax."
        raise ConfigError(
            f"{source}: invalid YAML{at}: {clip(problem, MAX_QUOTED_ERROR_CHARS)}.{fix}"
        ) from None
    if raw is None:
        return base
    if isinstance(raw, Mapping):
        from_layout = [k for k in DATASET_KEYS if k in raw]
        if from_layout:
            raise ConfigError(
                f"{source}: {', '.join(from_layout)} cannot be set here: the datasets are the "
                "files beside tuning.yaml (train.jsonl, validation.jsonl, test.jsonl). Remove "
                "the key(s) and put the files in the folder."
            )
    try:
        return apply_overrides(base, raw, source=source, catalog=catalog)
    except ConfigError as first:
        problems = every_problem(base, raw, source=source, catalog=catalog)
        if len(problems) <= 1:
            raise
        raise ConfigError(
            f"{source}: {len(problems)} problems:\n  - " + "\n  - ".join(problems)
        ) from first


#: Keys checked together: an adapter size is valid or not for a model.
_CHECKED_WITH = {"adapter_size": ("source_model_name",), "source_model_name": ("adapter_size",)}


_GATE_READS = ("metrics", "judge", "rubric", "rubric_dimensions")
#: Evaluation keys whose check reads other evaluation keys.
_EVAL_CHECKED_WITH = {
    "gates": _GATE_READS,
    "production_gates": _GATE_READS,
    "auto_promote": ("gates", "enabled", *_GATE_READS),
}


def every_problem(
    base: TuningConfig, raw: Any, *, source: str, catalog: Catalog = BUILTIN
) -> list[str]:
    """Every problem of `raw`, not only the first: each top-level key is checked on its own
    (with the keys it depends on), so a user fixes a file in one round trip."""
    if not isinstance(raw, Mapping):
        return []
    prefix = f"{source}: "
    out: list[str] = []
    unknown = {k: v for k, v in raw.items() if k not in _TOP_KEYS}
    parts = [unknown] if unknown else []
    for key in raw:
        if key in _TOP_KEYS:
            parts.append({k: raw[k] for k in (key, *_CHECKED_WITH.get(key, ())) if k in raw})
    evaluation = raw.get("evaluation")
    if isinstance(evaluation, Mapping) and len(evaluation) > 1:
        # One section, many problems (`max_concurrency: 10000` and `metrics: chrf`): each
        # evaluation key on its own, with the keys its check reads.
        parts = [p for p in parts if "evaluation" not in p]
        for key in evaluation:
            keys = (key, *_EVAL_CHECKED_WITH.get(key, ()))
            parts.append({"evaluation": {k: evaluation[k] for k in keys if k in evaluation}})
    for part in parts:
        try:
            apply_overrides(base, part, source=source, catalog=catalog)
        except ConfigError as e:
            message = e.message.removeprefix(prefix)
            if message not in out:
                out.append(message)
    return out


class _Refused(yaml.composer.ComposerError):
    """A document refused for its shape (alias expansion, recursion), not its syntax."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses a key given twice (PyYAML keeps the last silently) and a
    document whose alias expansion weighs more than `MAX_TUNING_YAML_WEIGHT`.

    The weight is counted while composing: each node's expanded weight is known once its
    children are composed (an alias weighs what its anchor weighs), so a bomb is refused after
    composing its few hundred real nodes, never expanded. PyYAML shares an anchored node between
    its aliases, so nothing else walks the expansion before this check.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._weights: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event: Any = self.peek_event()  # type: ignore[no-untyped-call]
            anchored = self.anchors.get(event.anchor)
            if anchored is not None and id(anchored) not in self._weights:
                raise _Refused(
                    None,
                    None,
                    f"alias *{event.anchor} refers to the collection that contains it (a "
                    "recursive anchor); write the values out",
                    event.start_mark,
                )
        node = super().compose_node(parent, index)
        if node is None:
            return None
        weight = self._weights.get(id(node))
        if weight is None:
            if isinstance(node, yaml.ScalarNode):
                weight = 1 + len(node.value)
            else:
                children = (
                    [n for pair in node.value for n in pair]
                    if isinstance(node, yaml.MappingNode)
                    else list(node.value)
                )
                weight = 1 + sum(self._weights[id(c)] for c in children)
            self._weights[id(node)] = weight
        if weight > MAX_TUNING_YAML_WEIGHT:
            raise _Refused(
                None,
                None,
                f"the aliases expand to more than {MAX_TUNING_YAML_WEIGHT} nodes and characters "
                "(a tuning.yaml holds a few settings); write the values out instead of "
                "nesting anchors",
                node.start_mark,
            )
        return node

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: the base class reports it
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {echo(key)} appears twice (first on line {first + 1}); keep one",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)
