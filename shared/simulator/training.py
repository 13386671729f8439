"""What a simulated tuning job "learns": hyperparameters, data statistics, checkpoints and
training curves, computed once from the dataset at job creation (pure functions, no I/O here).

Everything is a stand-in and says so: the recommended hyperparameters follow the users' own rule
of thumb (3 epochs, 5 for small data), not Vertex AI's unpublished recommender; billable tokens
come from the validator's token *estimate* (so comparing them with the validator's estimate
measures nothing about Gemini); the curves are shaped so that a small dataset over-fits — the
validation loss turns up after the first epochs — which gives best-checkpoint choice something
to find.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.catalog import ModelLimits
from shared.simulator.text import estimate_tokens

#: Below this many examples the simulator recommends more epochs (the users' rule of thumb).
SMALL_DATASET = 500
SIMULATED_BATCH = 8
#: Points per curve the simulator reports (enough to see a shape).
CURVE_POINTS = 60


@dataclass(frozen=True)
class SimTraining:
    epochs: int
    learning_rate_multiplier: float
    adapter_size: int
    examples: int
    billable_tokens: int
    steps: int
    truncated: tuple[int, ...]  #: 0-based indices of examples over the token limit
    dropped: tuple[str, ...]
    checkpoints: tuple[tuple[str, int, int], ...]  #: (id, epoch, step)
    curves: dict[str, list[tuple[int, float]]]

    def to_json(self) -> dict[str, Any]:
        return {
            "epochs": self.epochs,
            "learning_rate_multiplier": self.learning_rate_multiplier,
            "adapter_size": self.adapter_size,
            "examples": self.examples,
            "billable_tokens": self.billable_tokens,
            "steps": self.steps,
            "truncated": list(self.truncated),
            "dropped": list(self.dropped),
            "checkpoints": [list(c) for c in self.checkpoints],
            "curves": {k: [list(p) for p in v] for k, v in self.curves.items()},
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> SimTraining:
        return cls(
            epochs=int(doc["epochs"]),
            learning_rate_multiplier=float(doc["learning_rate_multiplier"]),
            adapter_size=int(doc["adapter_size"]),
            examples=int(doc["examples"]),
            billable_tokens=int(doc["billable_tokens"]),
            steps=int(doc["steps"]),
            truncated=tuple(int(i) for i in doc["truncated"]),
            dropped=tuple(str(r) for r in doc["dropped"]),
            checkpoints=tuple((str(c[0]), int(c[1]), int(c[2])) for c in doc["checkpoints"]),
            curves={
                str(k): [(int(s), float(v)) for s, v in pts] for k, pts in doc["curves"].items()
            },
        )


def checkpoint_quality(training: SimTraining, checkpoint_id: str | None) -> float:
    """How often (0..1) a simulated checkpoint answers like its training data: 1.0 at the
    checkpoint with the lowest validation loss (training loss without a validation set), less
    for under-trained early checkpoints and over-fitted late ones, so choosing the best
    checkpoint has something to find. None: the last checkpoint (what the endpoint serves)."""
    if not training.checkpoints:
        return 1.0
    curve = training.curves.get("eval_total_loss") or training.curves.get("train_total_loss")
    if not curve:
        return 1.0

    def loss_at(step: int) -> float:
        before = [v for s, v in curve if s <= step]
        return before[-1] if before else curve[0][1]

    losses = {cid: loss_at(step) for cid, _, step in training.checkpoints}
    cid = checkpoint_id if checkpoint_id in losses else training.checkpoints[-1][0]
    best = min(losses.values())
    return float(min(1.0, (best / losses[cid]) ** 2))


def example_tokens(lines: Iterable[bytes]) -> list[int]:
    """Estimated tokens of each readable example (unreadable lines count as 0)."""
    out = []
    for raw in lines:
        if not raw.strip():
            continue
        try:
            doc = json.loads(raw)
        except ValueError:
            out.append(0)
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("contents"), list):
            out.append(0)
            continue
        turns = list(doc["contents"])
        system = doc.get("systemInstruction") or doc.get("system_instruction")
        if isinstance(system, dict):
            turns.append(system)  # it counts toward the example's tokens, as on Vertex
        out.append(estimate_tokens(turns))
    return out


def simulate(
    tokens: list[int],
    limits: ModelLimits,
    *,
    seed: str,
    epochs: int | None,
    learning_rate_multiplier: float | None,
    adapter_size: int | None,
    last_checkpoint_only: bool,
    validation_examples: int,
) -> SimTraining:
    n = len(tokens)
    ep = epochs or (5 if n < SMALL_DATASET else 3)
    lr = learning_rate_multiplier or 1.0
    adapter = adapter_size or (4 if 4 in limits.adapter_sizes else limits.adapter_sizes[-1])
    cap = limits.max_tokens_per_example
    truncated = tuple(i for i, t in enumerate(tokens) if t > cap)
    billable = sum(min(t, cap) for t in tokens) * ep
    per_epoch = max(1, math.ceil(n / SIMULATED_BATCH))
    steps = per_epoch * ep
    kept = range(ep, ep + 1) if last_checkpoint_only else range(1, ep + 1)
    checkpoints = tuple((str(e), e, e * per_epoch) for e in kept)
    return SimTraining(
        epochs=ep,
        learning_rate_multiplier=lr,
        adapter_size=adapter,
        examples=n,
        billable_tokens=billable,
        steps=steps,
        truncated=truncated,
        dropped=(),
        checkpoints=checkpoints,
        curves=_curves(seed, steps, per_epoch, n, lr, validation_examples > 0),
    )


def _curves(
    seed: str, steps: int, per_epoch: int, n: int, lr: float, with_eval: bool
) -> dict[str, list[tuple[int, float]]]:
    """Train loss falls toward a floor; with a validation set, eval loss falls then turns up
    after about two epochs, sooner and steeper the smaller the dataset (over-fitting)."""
    rng = random.Random(seed)
    every = max(1, steps // CURVE_POINTS)
    overfit = 1.0 / math.sqrt(max(n, 1))  # small data over-fits more
    train_loss, train_acc, eval_loss, eval_acc = [], [], [], []
    for step in range(every, steps + 1, every):
        epoch = step / per_epoch
        t = 0.35 + 2.2 * math.exp(-1.6 * lr * epoch) + rng.uniform(-0.03, 0.03)
        train_loss.append((step, round(t, 4)))
        train_acc.append((step, round(min(0.99, 1.05 - t / 2.6), 4)))
        if with_eval:
            turn = max(0.0, epoch - 2.0)
            e = 0.55 + 2.0 * math.exp(-1.4 * lr * epoch) + 0.15 * overfit * turn**2
            eval_loss.append((step, round(e + rng.uniform(-0.02, 0.02), 4)))
            eval_acc.append((step, round(min(0.97, max(0.0, 1.0 - e / 2.8)), 4)))
    out = {
        "train_total_loss": train_loss,
        "train_fraction_of_correct_next_step_preds": train_acc,
    }
    if with_eval:
        out["eval_total_loss"] = eval_loss
        out["eval_fraction_of_correct_next_step_preds"] = eval_acc
    return out
