"""The test kit: real git repositories with dated commits, generated classes, and check
contexts in one line. For tests, demos and benchmarks; never imported by the grader itself.

    root = build_file_tree(tmp / "s1", {"README.md": "# Hi", "train.py": "print(1)"})
    git_save(root, "first", date="2020-10-20T12:00:00+02:00")
    bare = make_bare(root)                         # a local 'remote' to grade from
    students = make_class(tmp / "class", n=30)     # a roster's worth of such remotes
    ctx = make_context(root, "files")              # a CheckContext for one check's test
"""

from grader.testing.classes import FakeStudent, make_class, make_student_repo, write_roster
from grader.testing.context import make_context
from grader.testing.repos import build_file_tree, git, git_init, git_save, make_bare

__all__ = [
    "FakeStudent", "build_file_tree", "git", "git_init", "git_save", "make_bare", "make_class",
    "make_context", "make_student_repo", "write_roster",
]  # fmt: skip
