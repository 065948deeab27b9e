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
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.extras import require
from grader.paths import instructor_dir
from grader.results import atomic_write
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


def _no_hashes() -> np.ndarray:
    import numpy as np

    return np.zeros(0, dtype=np.int64)


@dataclass
class _Document:
    """All of one submission's files of one language, concatenated for fingerprinting.

    ``positions``/``hashes``: every fingerprinted position (sorted) and its k-gram hash;
    ``unique``: the sorted distinct hashes. With them a pair's overlap is a few numpy calls
    (``_covered``) instead of copydetect's per-pair Python loops: 300 students are 44,850
    pairs."""

    fingerprint: Any  # copydetect.CodeFingerprint
    spans: list[tuple[str, int, int]]  # (file, start, end) in the concatenated text
    texts: dict[str, str]
    positions: np.ndarray = field(default_factory=lambda: _no_hashes())
    hashes: np.ndarray = field(default_factory=lambda: _no_hashes())
    unique: np.ndarray = field(default_factory=lambda: _no_hashes())

    def index(self) -> _Document:
        import numpy as np  # an instructor extra, like copydetect

        found = sorted(
            (pos, int(h)) for h, spots in self.fingerprint.hash_idx.items() for pos in spots
        )
        self.positions = np.array([p for p, _ in found], dtype=np.int64)
        self.hashes = np.array([h for _, h in found], dtype=np.int64)
        self.unique = np.unique(self.hashes)
        return self


def _covered(mine: _Document, other: _Document) -> int:
    """How many of ``mine``'s filtered characters lie in k-grams that ``other`` has too:
    copydetect's token overlap (``compare_files``), computed with numpy."""
    import numpy as np

    if not mine.hashes.size or not other.unique.size:
        return 0
    at = np.searchsorted(other.unique, mine.hashes)
    at[at == other.unique.size] = 0
    shared = mine.positions[other.unique[at] == mine.hashes]
    if not shared.size:
        return 0
    k = mine.fingerprint.k
    return int(np.minimum(np.diff(shared), k).sum() + k)


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
    """Every k-gram hash of the boilerplate (no winnowing, as copydetect does): of each
    file, and of the files joined per language as a submission's are (``_documents``), so
    the k-grams across the joins of a submission that copied them all count as given too."""
    hashes: set[int] = set()
    by_language: dict[str | None, list[str]] = {}
    for source in files:
        hashes |= set(_fingerprint(source.text, source.language, 1, set()).hashes)
        by_language.setdefault(source.language, []).append(source.text + "\n")
    for language, texts in by_language.items():
        if len(texts) > 1:
            hashes |= set(_fingerprint("".join(texts), language, 1, set()).hashes)
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
        docs[language] = _Document(fp, spans, {s.path: s.text for s in group}).index()
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


def _similarity(a: str, b: str, docs_a: dict, docs_b: dict) -> SimilarPair | None:
    """The pair's similarity both ways (no regions yet); None when they share nothing."""
    overlap_a = overlap_b = 0
    for language in sorted(set(docs_a) & set(docs_b), key=str):
        da, db = docs_a[language], docs_b[language]
        if da.fingerprint.hashes.isdisjoint(db.fingerprint.hashes):
            continue
        if da.fingerprint.filtered_code:
            overlap_a += _covered(da, db)
        if db.fingerprint.filtered_code:
            overlap_b += _covered(db, da)
    cov_a, cov_b = _coverage(docs_a), _coverage(docs_b)
    pair = SimilarPair(
        a, b,
        round(min(overlap_a / cov_a, 1.0), 4) if cov_a else 0.0,
        round(min(overlap_b / cov_b, 1.0), 4) if cov_b else 0.0,
        int(round(overlap_a)), int(round(overlap_b)),
    )  # fmt: skip
    return pair if pair.similarity > 0 else None


def _add_regions(pair: SimilarPair, docs_a: dict, docs_b: dict) -> SimilarPair:
    """The matched regions and the matched files' code of a pair that is listed."""
    require("copydetect", "the similarity check")
    import numpy as np
    from copydetect import compare_files

    for language in sorted(set(docs_a) & set(docs_b), key=str):
        da, db = docs_a[language], docs_b[language]
        if not da.fingerprint.hashes & db.fingerprint.hashes:
            continue
        _, _, (slices_a, slices_b) = compare_files(da.fingerprint, db.fingerprint)
        for doc, slices, regions, sources in (
            (da, slices_a, pair.regions_a, pair.sources_a),
            (db, slices_b, pair.regions_b, pair.sources_b),
        ):
            found = _regions(np.asarray(slices), doc)
            regions += found
            sources.update({r.file: doc.texts[r.file] for r in found})
    return pair


def select_pairs(
    pairs: list[SimilarPair], per_student: int, cap: int, notes: list[str] | None = None
) -> list[SimilarPair]:
    """The pairs worth a human's time: each student's ``per_student`` most similar
    partners, then the ``cap`` most similar of those for the class (highest first). A class
    sharing code would otherwise list every pair (44,850 for 300 students)."""
    ranked = sorted(pairs, key=lambda p: (-p.similarity, p.a, p.b))
    kept: dict[tuple[str, str], SimilarPair] = {}
    count: dict[str, int] = {}
    for pair in ranked:
        if count.get(pair.a, 0) < per_student or count.get(pair.b, 0) < per_student:
            kept[(pair.a, pair.b)] = pair
            count[pair.a] = count.get(pair.a, 0) + 1
            count[pair.b] = count.get(pair.b, 0) + 1
    chosen = sorted(kept.values(), key=lambda p: (-p.similarity, p.a, p.b))[:cap]
    if notes is not None and len(chosen) < len(ranked):
        notes.append(
            f"{len(ranked)} pairs reach the threshold; listed: the {per_student} most similar "
            f"per student, at most {cap} for the class ({len(chosen)} pairs; "
            "similarity.top_per_student and similarity.max_pairs in the spec)"
        )
    return chosen


def find_similar(
    submissions: dict[str, Path],
    boilerplate: list[Path],
    threshold: float,
    include: list[str],
    notes: list[str] | None = None,
    per_student: int | None = None,
    cap: int | None = None,
) -> list[SimilarPair]:
    """Pairs of submissions of which either side shares at least ``threshold`` of its code.

    ``submissions`` maps a student (or team) id to the folder of its files; ``boilerplate``
    lists folders or files whose code is never counted. With ``per_student``/``cap`` only
    the top pairs are kept (see ``select_pairs``). A submission that cannot be read (a
    hostile tree) is left out with a note; the others are still compared. Sorted by
    similarity, highest first.
    """
    require("copydetect", "the similarity check")  # the grader's install, not a submission's
    notes = notes if notes is not None else []
    bp: set[int] = set()
    for path in boilerplate:
        if not path.exists():
            notes.append(f"boilerplate {path} does not exist; nothing is discounted for it")
            continue
        bp |= boilerplate_hashes(collect_sources(path, include, notes, label=f"boilerplate {path}"))
    docs: dict[str, dict] = {}
    for student in sorted(submissions):
        try:
            files = collect_sources(submissions[student], include, notes, label=student)
            if files:
                docs[student] = _documents(files, bp)
        except Exception as exc:  # noqa: BLE001 - one hostile submission, not the class
            notes.append(f"{student}: left out of the similarity check ({type(exc).__name__}: "
                         f"{str(exc)[:200]})")  # fmt: skip
    names = sorted(docs)
    pairs = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            pair = _similarity(a, b, docs[a], docs[b])
            if pair is not None and pair.similarity >= threshold:
                pairs.append(pair)
    pairs.sort(key=lambda p: (-p.similarity, p.a, p.b))
    if per_student is not None or cap is not None:
        pairs = select_pairs(pairs, per_student or len(names), cap or len(pairs), notes)
    return [_add_regions(p, docs[p.a], docs[p.b]) for p in pairs]


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
    data = {
        "schema": SIMILARITY_SCHEMA,
        "threshold": threshold,
        "submissions": submissions,
        "notes": list(notes or []),
        "inputs": inputs,
        "pairs": [p.to_dict() for p in pairs],
    }
    return atomic_write(out_dir / "similarity.json", json.dumps(data, indent=1, ensure_ascii=False))


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
    the spec file; and the reference solution (``<instructor dir>/<assignment id>/``) when
    it exists and ``similarity.reference_solution`` is on. Returns the paths found and a
    note for each named one that is not."""
    instructor = instructor or instructor_dir()
    roots = [r for r in (instructor, spec_dir) if r is not None]
    found, notes = [], []
    if spec.similarity.reference_solution and instructor is not None:
        reference = instructor / spec.id
        if reference.is_dir():
            found.append(reference)
    for entry in spec.similarity.boilerplate:
        candidates = [Path(entry)] if Path(entry).is_absolute() else [r / entry for r in roots]
        hit = next((c for c in candidates if c.exists()), None)
        if hit is None:
            where = ", ".join(str(r) for r in roots) or "no instructor dir (GRADER_INSTRUCTOR_DIR)"
            notes.append(f"similarity.boilerplate {entry!r} not found (looked in {where})")
        elif hit not in found:
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
    per_student, cap = spec.similarity.top_per_student, spec.similarity.max_pairs
    subs = checkouts(out_dir)
    settings = json.dumps(
        [__version__, SIMILARITY_SCHEMA, NOISE_T, GUARANTEE_T, limit, include, per_student, cap]
    )
    inputs = stamp([*paths, *subs.values()], include, salt=settings)
    if not force:
        try:
            last = read_similarity(out_dir)
        except ValueError:
            last = None
        if last is not None and last.inputs == inputs:
            last.reused = True
            return last
    pairs = find_similar(subs, paths, limit, include, notes, per_student, cap)
    write_similarity(out_dir, pairs, limit, len(subs), notes, inputs)
    return SimilarityReport(limit, len(subs), pairs, notes, inputs)
