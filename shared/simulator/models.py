"""`SimulatedModels`: inference on simulated tuned endpoints and base models.

A tuned endpoint answers like a plausible tuned model, not a lookup table (which scored 1.000 on
any test set that shared answers with training and flattered every evaluation): by how close
the question is to one it was trained on (`similarity.ExampleIndex`, cosine in 0..1),
- right on what it saw (`SEEN` and above): the trained answer;
- partly right on paraphrases (`PARAPHRASE` .. `SEEN`): the start of the trained answer, the
  more of it the closer the question, then a generic close;
- wrong on intents it never saw (below `PARAPHRASE`): the closest trained answer anyway, which
  is about something else (confidently wrong, as tuned models are).
The data is the copy of the training file its job took when it was created
(`shared.simulator.snapshots`), never the file as it is now; a base model answers generically
in the prompt's language and never reads the data (so the comparison has a real gap). Both
return `Generation(simulated=True)` with estimated token counts.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from shared import errors
from shared.ports import Generation, GenerationSettings
from shared.simulator.config import SimConfig
from shared.simulator.similarity import ExampleIndex, conversation_query
from shared.simulator.text import check_contents, estimate_tokens, generic_reply
from shared.simulator.tuner import Clock, SimulatedTuner

#: Dataset versions whose index is kept in memory (an evaluation uses one or two).
INDEX_CACHE_SIZE = 4
#: Question similarity from which the tuned model gives the whole trained answer, and below
#: which the question is an intent it never saw (see the module docstring).
SEEN = 0.95
PARAPHRASE = 0.25


def tuned_answer(answer: str, score: float, prompt: str) -> str:
    """What the simulated tuned model says given its closest trained answer and how close the
    question was: whole when seen, a share of it (half .. all, by closeness) on a paraphrase."""
    if score >= SEEN or score < PARAPHRASE:
        return answer
    share = 0.5 + 0.5 * (score - PARAPHRASE) / (SEEN - PARAPHRASE)
    keep = max(1, int(len(answer) * share))
    return answer[:keep].rstrip() + " " + generic_reply(prompt)


class SimulatedModels:
    """Implements `ports.Models` over the jobs of a `SimulatedTuner` (same SQLite state)."""

    def __init__(self, tuner: SimulatedTuner) -> None:
        self._tuner = tuner
        self._lock = threading.Lock()
        self._indexes: OrderedDict[tuple[str, int, int], ExampleIndex] = OrderedDict()

    @classmethod
    def from_root(
        cls,
        root: Path,
        *,
        config: SimConfig | None = None,
        env: Mapping[str, str] | None = None,
        clock: Clock = time.time,
    ) -> SimulatedModels:
        return cls(SimulatedTuner.from_root(root, config=config, env=env, clock=clock))

    def generate(
        self,
        model: str,
        contents: Sequence[Mapping[str, Any]],
        *,
        system_instruction: Mapping[str, Any] | None = None,
        settings: GenerationSettings | None = None,
    ) -> Generation:
        self._call()
        check_contents(contents)
        last_user, history = conversation_query(contents)
        dataset = self._resolve(model)
        text = generic_reply(last_user or history)
        if dataset is not None and _lucky(last_user or history, self._quality(model)):
            hit = self.index(dataset).nearest(last_user, history)
            if hit is not None:
                text = tuned_answer(hit[0].answer, hit[1], last_user or history)
        answer = [{"role": "model", "parts": [{"text": text}]}]
        return Generation(
            text,
            simulated=True,
            input_tokens=estimate_tokens(contents),
            output_tokens=estimate_tokens(answer),
        )

    def _quality(self, endpoint: str) -> float:
        job = self._tuner.endpoint_job(endpoint)
        return 1.0 if job is None else self._tuner.answer_quality(endpoint, job)

    def count_tokens(self, model: str, contents: Sequence[Mapping[str, Any]]) -> int:
        self._call()
        check_contents(contents)
        self._resolve(model)
        return estimate_tokens(contents)

    def index(self, dataset: Path) -> ExampleIndex:
        """The dataset's index, built once per file version and shared by threads."""
        try:
            st = dataset.stat()
        except FileNotFoundError:
            raise errors.PermanentError(
                f"The simulated tuned model cannot answer: its training data snapshot {dataset} "
                "was removed from the simulator's state folder. Re-run the dataset."
            ) from None
        key = (str(dataset), st.st_mtime_ns, st.st_size)
        with self._lock:
            found = self._indexes.get(key)
            if found is None:
                found = ExampleIndex.from_file(dataset)
                self._indexes[key] = found
                while len(self._indexes) > INDEX_CACHE_SIZE:
                    self._indexes.popitem(last=False)
            self._indexes.move_to_end(key)
            return found

    def _call(self) -> SimConfig:
        cfg = self._tuner.current_config()
        if self._tuner.consume_fault("models_transient", cfg.models_transient_errors):
            raise errors.TransientError(
                "503 The model is overloaded. Please try again later (simulated transient error)."
            )
        return cfg

    def trained_on(self, endpoint: str) -> Path:
        """The training data snapshot a tuned endpoint answers from."""
        path = self._resolve(endpoint)
        if path is None:
            raise ValueError(f"{endpoint} is a base model, not a tuned endpoint")
        return path

    def _resolve(self, model: str) -> Path | None:
        """The training data behind a tuned endpoint (the snapshot taken when its job was
        created), or None for a base model."""
        if "/endpoints/" in model:
            job = self._tuner.endpoint_job(model)
            if job is None:
                raise errors.NotFound(
                    f"404 Endpoint {model} was not found in the local Vertex AI simulator. "
                    "Use the tuned_model_endpoint of a SUCCEEDED simulated job."
                )
            return self._tuner.trained_on(job)
        catalog = self._tuner.catalog
        short = catalog.normalize(model)
        if catalog.get(model) is None and not short.startswith("gemini-"):
            raise errors.NotFound(
                f"404 Publisher Model `publishers/google/models/{short}` was not found. "
                "Use a Gemini model name such as gemini-3.5-flash."
            )
        return None


def _lucky(question: str, quality: float) -> bool:
    """Deterministic per question: the same checkpoint always gets the same questions right."""
    if quality >= 1.0:
        return True
    h = int.from_bytes(hashlib.blake2b(question.encode(), digest_size=8).digest(), "big")
    return h / 2**64 < quality
