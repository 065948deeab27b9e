"""Turn this reference team project into a git repository dated per milestone.

    python build_history.py DEST            # a repo in DEST (must not exist yet)
    python build_history.py --refresh       # rerun the team's pipeline here first

The repository gets one commit per milestone, in Budapest time: the milestone 1 files on
2020-10-20, the milestone 2 files on 2020-11-18 and the final documentation (with
``report.pdf`` rendered from ``report.md`` by fpdf2) on 2020-12-08. Tests call
``build_history(dest, dates=..., report_markdown=...)`` to make late or Hungarian variants.

``--refresh`` regenerates the committed artifacts in this folder from scratch: the data
(acquire_data.py, split_data.py), the exploration notebook's stored outputs (executed with
nbclient), the training log (train.py) and the test metrics (evaluate.py). It needs the
packages in requirements.txt plus nbclient and ipykernel.

This file is the instructor's builder; it is not part of the student repository.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from grader.testing import git_save

HERE = Path(__file__).resolve().parent
ZONE = ZoneInfo("Europe/Budapest")

# what each milestone's commit adds, in commit order
STAGES: dict[str, list[str]] = {
    "m1": [
        ".gitignore",
        "requirements.txt",
        "acquire_data.py",
        "split_data.py",
        "explore_data.ipynb",
        "data/train.csv",
        "data/val.csv",
        "data/test.csv",
    ],
    "m2": [
        "digits_model.py",
        "train.py",
        "evaluate.py",
        "logs/train.log",
        "results/metrics.json",
    ],
    "final": ["readme.md"],  # and report.pdf, rendered from report.md (not committed)
}
MESSAGES = {
    "m1": "Milestone 1: data acquisition, exploration and train/val/test split",
    "m2": "Milestone 2: baseline training and first evaluation",
    "final": "Final: readme and report",
}
DATES = {"m1": "2020-10-20 18:30", "m2": "2020-11-18 20:15", "final": "2020-12-08 19:00"}
REPORT_PDF = "report.pdf"


def local_iso(value: str) -> str:
    """'2020-10-20 18:30' in Budapest time as ISO 8601 with its UTC offset."""
    return datetime.fromisoformat(value).replace(tzinfo=ZONE).isoformat()


# ---- the PDF report --------------------------------------------------------------------

_PLAIN = str.maketrans({"ő": "ö", "ű": "ü", "Ő": "Ö", "Ű": "Ü", "’": "'", "“": '"', "”": '"'})
_PLAIN.update(str.maketrans({"–": "-", "—": "-", "…": "..."}))


def _latin1(text: str) -> str:
    """The PDF core fonts cover Latin-1 only: Hungarian ő/ű become ö/ü."""
    return text.translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")


def render_pdf(markdown: str, path: Path, title: str = "Project report") -> Path:
    """A simple A4 PDF from Markdown-like text: '#' headings, '-' bullets, paragraphs."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title(title)
    pdf.set_author("Team project")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_page()
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            pdf.set_font("Helvetica", size=11)
            pdf.multi_cell(0, 5.5, _latin1(" ".join(paragraph)), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2.5)
            paragraph.clear()

    for line in markdown.splitlines():
        stripped = line.strip()
        if not stripped:
            flush()
        elif stripped.startswith("#"):
            flush()
            level = len(stripped) - len(stripped.lstrip("#"))
            pdf.set_font("Helvetica", style="B", size={1: 17, 2: 13}.get(level, 11))
            pdf.multi_cell(0, 8, _latin1(stripped.lstrip("# ")), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1.5)
        elif stripped.startswith(("- ", "* ")):
            flush()
            pdf.set_font("Helvetica", size=11)
            pdf.multi_cell(0, 5.5, _latin1("- " + stripped[2:]), new_x="LMARGIN", new_y="NEXT")
        else:
            paragraph.append(stripped)
    flush()
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path


# ---- the history -----------------------------------------------------------------------


def build_history(
    dest: str | Path,
    *,
    dates: dict[str, str] | None = None,
    report_markdown: str | None = None,
) -> dict[str, str]:
    """Build the dated repository in ``dest``; returns the commit of each stage.

    ``dates`` overrides stage dates (Budapest local time, 'YYYY-MM-DD HH:MM');
    ``report_markdown`` replaces report.md as the text of the final commit's report.pdf.
    """
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} exists and is not empty; give a new folder")
    when = {**DATES, **(dates or {})}
    commits = {}
    for stage, files in STAGES.items():
        for relative in files:
            source = HERE / relative
            if not source.is_file():
                raise FileNotFoundError(f"{source} is missing; run `build_history.py --refresh`")
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        if stage == "final":
            markdown = report_markdown or (HERE / "report.md").read_text(encoding="utf-8")
            render_pdf(markdown, dest / REPORT_PDF)
        commits[stage] = git_save(dest, MESSAGES[stage], date=local_iso(when[stage]))
    return commits


def refresh() -> None:
    """Rerun the team's pipeline in this folder, regenerating every committed artifact."""
    import nbformat
    from nbclient import NotebookClient

    for script in ("acquire_data.py", "split_data.py"):
        subprocess.run([sys.executable, script], cwd=HERE, check=True)
    notebook_path = HERE / "explore_data.ipynb"
    notebook = nbformat.read(notebook_path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(HERE)}},
    )
    client.execute()
    nbformat.write(notebook, notebook_path)
    for script in ("train.py", "evaluate.py"):
        subprocess.run([sys.executable, script], cwd=HERE, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the reference project's git history.")
    parser.add_argument("dest", nargs="?", type=Path, help="folder for the new repository")
    parser.add_argument("--refresh", action="store_true", help="rerun the pipeline first")
    args = parser.parse_args()
    if not args.dest and not args.refresh:
        parser.error("give DEST, --refresh, or both")
    if args.refresh:
        refresh()
    if args.dest:
        for stage, sha in build_history(args.dest).items():
            print(f"{stage}: {sha}")


if __name__ == "__main__":
    main()
