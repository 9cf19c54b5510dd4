"""The rules for files written by earlier versions of cnn-ext, in one place, each applied where
such a file is read.

- Model state of cnn-ext 0.1.0 numbered its arrays (``param_0``, ``buffer_0``) in the order of
  the layers, beside an ``architecture`` JSON of their reprs: :func:`numbered_state_names`.
- Optimizer state of cnn-ext 0.1 numbered its arrays likewise (``first_moment_0``):
  :func:`numbered_optimizer_state` and :func:`numbered_parameter`.
- Trainer checkpoints of cnn-ext 0.1 had no augmentation, and those before 0.3 no validation
  settings: :func:`upgraded_run_record` gives their records the defaults those runs had.
- The main job's ``run.json`` of earlier versions lacked the model (always LeNet), the
  augmentation and the validation settings; a run with no ``run.json`` at all predates it:
  :func:`upgraded_job_record` fills them in as those runs had them.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np

__all__ = ["numbered_state_names", "numbered_optimizer_state", "numbered_parameter",
           "upgraded_run_record", "upgraded_job_record"]

#: What a checkpoint's record of the run holds for settings that older versions did not have.
RUN_RECORD_DEFAULTS = {"augment": None, "validation": None, "keep_best": False,
                       "early_stopping": None}


def numbered_state_names(specs: Mapping[str, Any], param_names: Sequence[str],
                         buffer_names: Sequence[str], source: str) -> dict[str, str]:
    """The saved name of each of a model's arrays in a cnn-ext 0.1.0 file (``param_i``,
    ``buffer_i``, numbered in the order of ``param_names`` and ``buffer_names``).

    Raises ``ValueError`` naming ``source`` for a file that is no such state, or holds another
    number of arrays than the model."""
    if "param_0" not in specs and "architecture" not in specs:
        raise ValueError(f"{source} is not a saved cnn model (no 'format_version' entry)")
    sources = {}
    for prefix, names in (("param", param_names), ("buffer", buffer_names)):
        saved = sum(1 for key in specs if key.startswith(f"{prefix}_"))
        if saved != len(names):
            raise ValueError(f"{source} (a cnn-ext 0.1.0 file) holds {saved} {prefix}s, this "
                             f"model has {len(names)}; it was saved from another architecture")
        sources.update({name: f"{prefix}_{index}" for index, name in enumerate(names)})
    extra = [key for key in specs if key != "architecture" and key not in sources.values()]
    if extra:
        raise ValueError(f"{source} (a cnn-ext 0.1.0 file) holds {extra[0]!r}, which such "
                         f"files never do")
    return sources


def numbered_optimizer_state(arrays: Mapping[str, Any], kind: str, names: Optional[Sequence[str]],
                             optimizer: str) -> dict:
    """The ``{kind}_{i}`` arrays of a cnn-ext 0.1 optimizer state by parameter name (``names``,
    in order; their numbers without it), or ``{}`` when there are none. ``ValueError`` naming
    ``optimizer`` when their count is not the model's."""
    numbered = sorted((int(key[len(kind) + 1:]), np.array(value)) for key, value in arrays.items()
                      if key.startswith(f"{kind}_") and key[len(kind) + 1:].isdigit())
    if not numbered:
        return {}
    labels = names if names is not None else [str(index) for index, _ in numbered]
    if len(labels) != len(numbered):
        raise ValueError(f"{optimizer}: the saved state numbers {len(numbered)} {kind} arrays, "
                         f"the model has {len(labels)} params")
    return {label: value for label, (_, value) in zip(labels, numbered)}


def numbered_parameter(number: str, param_names: Sequence[str]) -> str:
    """The parameter a cnn-ext 0.1 optimizer state key numbers (``first_moment_3``: the fourth
    of ``param_names``); ``number`` itself when it numbers none."""
    return param_names[int(number)] if number.isdigit() and int(number) < len(param_names) else number


def upgraded_run_record(record: dict) -> dict:
    """A checkpoint's record of the run with the settings older versions lacked filled in, as
    the runs that wrote them had them (no augmentation, no validation set)."""
    for key, default in RUN_RECORD_DEFAULTS.items():
        record.setdefault(key, default)
    return record


#: What the main job's run.json holds for flags that older versions did not record.
JOB_RECORD_DEFAULTS = {"model": "lenet", "augment": False, "validation": None, "keep_best": False,
                       "early_stopping": None}


def upgraded_job_record(record: dict) -> dict:
    """The main job's ``run.json`` with the flags older versions did not record filled in, as
    their runs had them."""
    return {**JOB_RECORD_DEFAULTS, **record}
