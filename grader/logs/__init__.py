"""Training logs parsed into comparable histories.

Reused wherever a training run's output is judged: the ``training_log`` check reads the
student's committed logs, and a rerun's output is parsed the same way to compare claims.

    from grader.logs import parse_text, parse_paths, find_training_outputs, combine

    history = parse_text(open("training.log").read(), "training.log")
    history.phases[1].name            # 'Stage 2: fine-tuning layer4'
    history.final("val_accuracy")     # 0.93
    history.test_metrics["accuracy"]  # 0.91
    history.to_dict()                 # plain JSON-able data; TrainingHistory.from_dict(...)

Metric names are normalised (``acc``/``Acc``/``categorical_accuracy`` -> ``accuracy``,
``val_acc``/``Val Acc``/``eval_accuracy`` -> ``val_accuracy``) and percentages become
fractions; see ``grader.logs.model``.
"""

from grader.logs.model import (
    EpochRecord,
    Phase,
    TrainingHistory,
    metric_key,
    normalise_metric,
)
from grader.logs.parse import clean_lines, parse_text
from grader.logs.sources import (
    DEFAULT_PATTERNS,
    combine,
    find_training_outputs,
    notebook_output_text,
    parse_csv,
    parse_file,
    parse_json,
    parse_notebook,
    parse_paths,
)

__all__ = [
    "DEFAULT_PATTERNS",
    "EpochRecord",
    "Phase",
    "TrainingHistory",
    "clean_lines",
    "combine",
    "find_training_outputs",
    "metric_key",
    "normalise_metric",
    "notebook_output_text",
    "parse_csv",
    "parse_file",
    "parse_json",
    "parse_notebook",
    "parse_paths",
    "parse_text",
]
