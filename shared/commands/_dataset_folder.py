"""A dataset folder, as `prepare` writes it, `submit` uploads it and `validate` reads it: the
pipeline's file names (`pipeline.layout`), train.jsonl last because it is the trigger."""

from __future__ import annotations

from pathlib import Path

from shared.pipeline import layout

#: The dataset folder's files in upload order: the trigger, train.jsonl, last.
ORDER = (layout.TUNING_YAML, layout.VALIDATION, layout.TEST, layout.TRAIN)


def dataset_files(folder: Path) -> list[Path]:
    """The folder's dataset files that exist, in ORDER. Raises ValueError with what to fix."""
    if not folder.is_dir():
        raise ValueError(
            f"{folder} is not a folder; put {layout.TRAIN} (and optional {layout.VALIDATION}, "
            f"{layout.TEST}, {layout.TUNING_YAML}) in a folder"
        )
    files = [folder / n for n in ORDER if (folder / n).is_file()]
    if not files or files[-1].name != layout.TRAIN:
        raise ValueError(f"{folder} has no {layout.TRAIN}: it is the file that starts a run")
    return files
