"""Training curves as inline SVG for the HTML report (drawn by ``grader.charts``: no
matplotlib, every label escaped, no scripts, no XML prolog, ready to inline)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from grader.charts import Panel, Series, colour, line_panels
from grader.logs.model import TrainingHistory

DEFAULT_METRICS = ("loss", "accuracy")
_STYLES = {"": "solid", "val_": "dashed", "test_": "dotted"}


def curves_svg(
    histories: Mapping[str, TrainingHistory],
    metrics: Sequence[str] = DEFAULT_METRICS,
    width: float = 720,
    height_per_plot: float = 220,
) -> str:
    """One panel per base metric (``loss``, ``accuracy``); in it the training (solid),
    ``val_`` (dashed) and ``test_`` (dotted) curves of every history, one colour per source,
    over its epochs counted across phases, with a dotted vertical line where a new phase
    starts. Returns "" when there is nothing to draw."""
    several = len(histories) > 1
    panels = []
    for base in metrics:
        series: list[Series] = []
        boundaries: set[float] = set()
        for index, (source, history) in enumerate(histories.items()):
            for style_index, (prefix, dash) in enumerate(_STYLES.items()):
                points = history.series(prefix + base)
                if not points:
                    continue
                name = (prefix or "train_") + base
                series.append(
                    Series(
                        f"{source}: {name}" if several else name,
                        points,
                        colour(index if several else style_index),
                        dash,
                    )
                )
                count = 0
                for phase in history.phases[:-1]:
                    count += len(phase.epochs)
                    boundaries.add(count + 0.5)
        if series:
            panels.append(Panel(base, series, sorted(boundaries)))
    return line_panels(
        panels,
        "epoch (counted across phases; dotted lines: a new phase starts)",
        width=width,
        height=height_per_plot,
    )
