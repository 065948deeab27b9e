"""Training curves as inline SVG for the HTML report.

matplotlib (Agg backend, imported only when a plot is drawn) writes the SVG; it escapes
its text, and labels have ``$`` escaped so that student-named sources never reach its
mathtext parser. The result has no scripts and no XML prolog, ready to inline.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping, Sequence

from grader.logs.model import TrainingHistory

DEFAULT_METRICS = ("loss", "accuracy")
_STYLES = {"": "-", "val_": "--", "test_": ":"}


def _label(text: str) -> str:
    return text.replace("\\", "/").replace("$", r"\$")[:60]


def warm_up() -> None:
    """Import matplotlib (Agg) now: checks that draw run in children that inherit it."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure  # noqa: F401


def curves_svg(
    histories: Mapping[str, TrainingHistory],
    metrics: Sequence[str] = DEFAULT_METRICS,
    width: float = 7.5,
    height_per_plot: float = 2.6,
) -> str:
    """One panel per base metric (``loss``, ``accuracy``); in it the training (solid),
    ``val_`` (dashed) and ``test_`` (dotted) curves of every history, one colour per source,
    over its epochs counted across phases, with a dotted vertical line where a new phase
    starts. Returns "" when there is nothing to draw."""
    panels = []
    for base in metrics:
        lines = []
        for index, (source, history) in enumerate(histories.items()):
            for prefix in _STYLES:
                series = history.series(prefix + base)
                if series:
                    lines.append((source, prefix, series, history, f"C{index % 10}"))
        if lines:
            panels.append((base, lines))
    if not panels:
        return ""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    salt = hashlib.sha1(
        repr([(s, h.to_dict()) for s, h in histories.items()]).encode()
    ).hexdigest()[:10]
    figure = Figure(figsize=(width, height_per_plot * len(panels)), layout="constrained")
    axes = figure.subplots(len(panels), 1, squeeze=False)[:, 0]
    several = len(histories) > 1
    for ax, (base, lines) in zip(axes, panels, strict=True):
        boundaries: set[int] = set()
        for source, prefix, series, history, colour in lines:
            xs, ys = zip(*series, strict=True)
            name = (prefix or "train_") + base
            label = f"{source}: {name}" if several else name
            colour = colour if several else f"C{list(_STYLES).index(prefix)}"
            ax.plot(xs, ys, _STYLES[prefix], color=colour, marker="o", markersize=3,
                    label=_label(label))  # fmt: skip
            count = 0
            for phase in history.phases[:-1]:
                count += len(phase.epochs)
                boundaries.add(count)
        for boundary in sorted(boundaries):
            ax.axvline(boundary + 0.5, color="grey", linestyle=":", linewidth=1)
        ax.set_ylabel(_label(base))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small", loc="best")
    axes[-1].set_xlabel("epoch (counted across phases; dotted lines: a new phase starts)")
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]
