"""Cross-submission similarity of code and notebook code cells (``copydetect``).

Each submission's files that match the spec's ``include`` globs are read (a notebook
becomes its code cells joined into one Python text), grouped by language, and
fingerprinted with copydetect's winnowing. Fingerprints that also occur in the
boilerplate (starter code, the reference solution) are dropped first, so code every
student was given never counts. A pair is listed when either side shares at least
``threshold`` of its fingerprinted code with the other. The result is a hint for a human
reviewer shown in the class overview, never a penalty.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.extras import require
from grader.paths import instructor_dir
from grader.sources import SourceFile, collect_sources, stamp
from grader.spec import AssignmentSpec

if TYPE_CHECKING:
    import numpy as np

SIMILARITY_SCHEMA = 1
NOISE_T = 25  # copydetect's default: the shortest match (in filtered characters) that counts
GUARANTEE_T = 25  # every match this long is found (window = guarantee - noise + 1)


@dataclass
class Region:
    """One matched stretch of code: character offsets and 1-based lines in one file."""

    file: str
    start: int
    end: int
    start_line: int
    end_line: int


@dataclass
class SimilarPair:
    a: str
    b: str
    similarity_ab: float  # share of a's fingerprinted code also found in b
    similarity_ba: float  # share of b's fingerprinted code also found in a
    tokens_a: int = 0
    tokens_b: int = 0
    regions_a: list[Region] = field(default_factory=list)
    regions_b: list[Region] = field(default_factory=list)
    sources_a: dict[str, str] = field(default_factory=dict)  # matched files' code, for display
    sources_b: dict[str, str] = field(default_factory=dict)

    @property
    def similarity(self) -> float:
        return max(self.similarity_ab, self.similarity_ba)

    @property
    def files_a(self) -> list[str]:
        return sorted({r.file for r in self.regions_a})

    @property
    def files_b(self) -> list[str]:
        return sorted({r.file for r in self.regions_b})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SimilarPair:
        data = dict(data)
        data.pop("files_a", None)
        data.pop("files_b", None)
        data["regions_a"] = [Region(**r) for r in data.get("regions_a", [])]
        data["regions_b"] = [Region(**r) for r in data.get("regions_b", [])]
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["files_a"], data["files_b"] = self.files_a, self.files_b
        return data


@dataclass
class SimilarityReport:
    threshold: float
    submissions: int
    pairs: list[SimilarPair]
    notes: list[str] = field(default_factory=list)
    inputs: str = ""  # digest of what was compared (see analyse_out_dir)
    reused: bool = False  # True when analyse_out_dir found nothing changed


# ---- fingerprints -----------------------------------------------------------------------


@dataclass
class _Document:
    """All of one submission's files of one language, concatenated for fingerprinting."""

    fingerprint: Any  # copydetect.CodeFingerprint
    spans: list[tuple[str, int, int]]  # (file, start, end) in the concatenated text
    texts: dict[str, str]


def _fingerprint(text: str, language: str | None, window: int, boilerplate: set[int]) -> Any:
    require("copydetect", "the similarity check")
    from copydetect import CodeFingerprint
    from copydetect.utils import get_token_coverage

    fp = CodeFingerprint(
        f"submission.{language or 'txt'}", NOISE_T, window, filter=language is not None,
        language=language, fp=io.StringIO(text),
    )  # fmt: skip
    if boilerplate:  # drop every occurrence (copydetect's own removal keeps duplicates)
        shared = fp.hashes & boilerplate
        fp.hashes = fp.hashes - shared
        for value in shared:
            fp.hash_idx.pop(value, None)
        fp.token_coverage = get_token_coverage(fp.hash_idx, NOISE_T, len(fp.filtered_code))
    return fp


def boilerplate_hashes(files: list[SourceFile]) -> set[int]:
    """Every k-gram hash of the boilerplate (no winnowing, as copydetect does)."""
    hashes: set[int] = set()
    for source in files:
        hashes |= set(_fingerprint(source.text, source.language, 1, set()).hashes)
    return hashes


def _documents(files: list[SourceFile], boilerplate: set[int]) -> dict[str | None, _Document]:
    window = GUARANTEE_T - NOISE_T + 1
    by_language: dict[str | None, list[SourceFile]] = {}
    for source in files:
        by_language.setdefault(source.language, []).append(source)
    docs = {}
    for language, group in by_language.items():
        parts, spans, offset = [], [], 0
        for source in group:
            spans.append((source.path, offset, offset + len(source.text)))
            parts.append(source.text + "\n")
            offset += len(source.text) + 1
        fp = _fingerprint("".join(parts), language, window, boilerplate)
        docs[language] = _Document(fp, spans, {s.path: s.text for s in group})
    return docs


def _regions(slices: np.ndarray, doc: _Document) -> list[Region]:
    """Matched slices of the concatenated text, split at file borders, as file regions."""
    regions = []
    if slices.size == 0:
        return regions
    for start, end in zip(slices[0].tolist(), slices[1].tolist(), strict=True):
        for path, lo, hi in doc.spans:
            s, e = max(int(start), lo), min(int(end), hi)
            if s >= e:
                continue
            text = doc.texts[path]
            s, e = s - lo, e - lo
            if not text[s:e].strip():
                continue
            regions.append(
                Region(path, s, e, text.count("\n", 0, s) + 1, text.count("\n", 0, e) + 1)
            )
    return regions


def _coverage(docs: Mapping[str | None, _Document]) -> float:
    return float(sum(d.fingerprint.token_coverage for d in docs.values()))


def _compare(a: str, b: str, docs_a: dict, docs_b: dict, threshold: float) -> SimilarPair | None:
    """The pair's similarity both ways; its regions only when it is listed (else None)."""
    require("copydetect", "the similarity check")
    import numpy as np  # an instructor extra, like copydetect
    from copydetect import compare_files

    overlap_a = overlap_b = 0.0
    matched = []
    for language in sorted(set(docs_a) & set(docs_b), key=str):
        da, db = docs_a[language], docs_b[language]
        if not da.fingerprint.hashes & db.fingerprint.hashes:
            continue
        _, (sim_a, sim_b), slices = compare_files(da.fingerprint, db.fingerprint)
        overlap_a += float(sim_a) * float(da.fingerprint.token_coverage)
        overlap_b += float(sim_b) * float(db.fingerprint.token_coverage)
        matched.append((da, db, slices))
    cov_a, cov_b = _coverage(docs_a), _coverage(docs_b)
    pair = SimilarPair(
        a, b,
        round(min(overlap_a / cov_a, 1.0), 4) if cov_a else 0.0,
        round(min(overlap_b / cov_b, 1.0), 4) if cov_b else 0.0,
        int(round(overlap_a)), int(round(overlap_b)),
    )  # fmt: skip
    if pair.similarity <= 0 or pair.similarity < threshold:
        return None
    for da, db, (slices_a, slices_b) in matched:
        for doc, slices, regions, sources in (
            (da, slices_a, pair.regions_a, pair.sources_a),
            (db, slices_b, pair.regions_b, pair.sources_b),
        ):
            found = _regions(np.asarray(slices), doc)
            regions += found
            sources.update({r.file: doc.texts[r.file] for r in found})
    return pair


def find_similar(
    submissions: dict[str, Path],
    boilerplate: list[Path],
    threshold: float,
    include: list[str],
    notes: list[str] | None = None,
) -> list[SimilarPair]:
    """Pairs of submissions of which either side shares at least ``threshold`` of its code.

    ``submissions`` maps a student (or team) id to the folder of its files; ``boilerplate``
    lists folders or files whose code is never counted. Sorted by similarity, highest first.
    """
    notes = notes if notes is not None else []
    shared: list[SourceFile] = []
    for path in boilerplate:
        if not path.exists():
            notes.append(f"boilerplate {path} does not exist; nothing is discounted for it")
            continue
        shared += collect_sources(path, include, notes, label=f"boilerplate {path}")
    bp = boilerplate_hashes(shared)
    docs: dict[str, dict] = {}
    for student in sorted(submissions):
        files = collect_sources(submissions[student], include, notes, label=student)
        if files:
            docs[student] = _documents(files, bp)
    names = sorted(docs)
    pairs = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            pair = _compare(a, b, docs[a], docs[b], threshold)
            if pair is not None:
                pairs.append(pair)
    pairs.sort(key=lambda p: (-p.similarity, p.a, p.b))
    return pairs


# ---- similarity.json --------------------------------------------------------------------


def write_similarity(
    out_dir: Path,
    pairs: list[SimilarPair],
    threshold: float | None = None,
    submissions: int | None = None,
    notes: list[str] | None = None,
    inputs: str = "",
) -> Path:
    """Write ``out_dir/similarity.json`` atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {
        "schema": SIMILARITY_SCHEMA,
        "threshold": threshold,
        "submissions": submissions,
        "notes": list(notes or []),
        "inputs": inputs,
        "pairs": [p.to_dict() for p in pairs],
    }
    path = out_dir / "similarity.json"
    tmp = path.with_name(".similarity.json.tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_similarity(out_dir: Path) -> SimilarityReport | None:
    """``out_dir/similarity.json``, or None when there is none. Raises ValueError if broken."""
    path = out_dir / "similarity.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("schema") != SIMILARITY_SCHEMA:
            raise ValueError(f"schema {data.get('schema')!r} is not supported (expected 1)")
        pairs = [SimilarPair.from_dict(p) for p in data.get("pairs", [])]
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"{path}: not a readable similarity file ({exc}); rerun it") from None
    return SimilarityReport(
        threshold=float(data.get("threshold") or 0.0),
        submissions=int(data.get("submissions") or 0),
        pairs=pairs,
        notes=[str(n) for n in data.get("notes", [])],
        inputs=str(data.get("inputs") or ""),
    )


# ---- a graded batch's output folder -----------------------------------------------------


def checkouts(out_dir: Path) -> dict[str, Path]:
    """Student (or team) id -> its checked-out files: ``out_dir/<id>/checkout``."""
    return {
        path.parent.name: path
        for path in sorted(out_dir.glob("*/checkout"))
        if path.is_dir() and not path.is_symlink()
    }


def resolve_boilerplate(
    spec: AssignmentSpec, spec_dir: Path | None = None, instructor: Path | None = None
) -> tuple[list[Path], list[str]]:
    """The spec's boilerplate paths: absolute, else under the instructor dir, else next to
    the spec file. Returns the paths found and a note for each one that is not."""
    roots = [r for r in (instructor or instructor_dir(), spec_dir) if r is not None]
    found, notes = [], []
    for entry in spec.similarity.boilerplate:
        candidates = [Path(entry)] if Path(entry).is_absolute() else [r / entry for r in roots]
        hit = next((c for c in candidates if c.exists()), None)
        if hit is None:
            where = ", ".join(str(r) for r in roots) or "no instructor dir (GRADER_INSTRUCTOR_DIR)"
            notes.append(f"similarity.boilerplate {entry!r} not found (looked in {where})")
        else:
            found.append(hit)
    return found, notes


def analyse_out_dir(
    out_dir: Path,
    spec: AssignmentSpec,
    threshold: float | None = None,
    boilerplate: list[Path] | None = None,
    spec_dir: Path | None = None,
    force: bool = False,
) -> SimilarityReport:
    """Compare every checkout of a graded batch and write ``similarity.json``.

    When nothing that the comparison reads has changed since the last run (the checkouts'
    and boilerplate files, the settings, the grader version), the last report is reused
    unless ``force``: an unchanged regrade costs a directory walk, not a comparison.
    """
    from grader import __version__

    paths, notes = resolve_boilerplate(spec, spec_dir)
    paths += list(boilerplate or [])
    limit = spec.similarity.threshold if threshold is None else threshold
    include = list(spec.similarity.include)
    subs = checkouts(out_dir)
    settings = json.dumps([__version__, SIMILARITY_SCHEMA, NOISE_T, GUARANTEE_T, limit, include])
    inputs = stamp([*paths, *subs.values()], include, salt=settings)
    if not force:
        try:
            last = read_similarity(out_dir)
        except ValueError:
            last = None
        if last is not None and last.inputs == inputs:
            last.reused = True
            return last
    pairs = find_similar(subs, paths, limit, include, notes)
    write_similarity(out_dir, pairs, limit, len(subs), notes, inputs)
    return SimilarityReport(limit, len(subs), pairs, notes, inputs)
