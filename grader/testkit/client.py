"""``student`` / ``nb``: the tests' handle on the submission's process in the sandbox.

Every call sends a request and waits for data; an object that is not plain data stays in
the student's process and comes back as a ``Ref`` (as testbook's references do). A
student-side exception becomes ``StudentError`` with the student's file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from grader import testkit
from grader.testkit.channel import Channel, RemoteRef, decode, encode


class StudentError(Exception):
    """The student's code raised (or ran over its time) while answering a test."""

    def __init__(self, info: dict):
        self.type = str(info.get("type", "Error"))
        self.text = str(info.get("message", ""))
        where = info.get("where")
        self.where = tuple(where) if isinstance(where, list) and len(where) == 2 else None
        self.student_traceback = str(info.get("traceback", ""))
        place = f" ({self.where[0]}, line {self.where[1]})" if self.where else ""
        super().__init__(f"the submission's code raised {self.type}: {self.text}{place}")


@dataclass
class Completed:
    """A command run in the sandbox."""

    returncode: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")


class Ref(RemoteRef):
    """An object in the student's process: call it, read its attributes and items."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._owner._ask(
            "call", target={"__ref__": self.ident}, args=encode(list(args)),
            kwargs=encode(dict(kwargs)), touched=self.where,
        )  # fmt: skip

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._owner._ask("getattr", target={"__ref__": self.ident}, name=name)

    def __getitem__(self, key: Any) -> Any:
        return self._owner._ask("getitem", target={"__ref__": self.ident}, key=encode(key))

    def value(self) -> Any:
        """The object itself as plain data (an error if it is not)."""
        return self._owner._ask("value", target={"__ref__": self.ident})

    def __repr__(self) -> str:
        return f"<student {self.type_name}: {self.text}>"


class Student:
    """The submission's process. ``timeout`` bounds each request (seconds)."""

    def __init__(self, channel: Channel, hello: dict, timeout: float = 60.0):
        self._channel = channel
        self.hello = hello
        self.timeout = timeout

    # ---- the protocol ---------------------------------------------------------------------
    def _ask(self, op: str, timeout: float | None = None, touched: Any = None, **fields: Any):
        if touched:
            testkit.current().touched.append(tuple(touched))
        answer = self._channel.request(op, timeout or self.timeout, **fields)
        if "error" in answer:
            info = answer["error"] if isinstance(answer["error"], dict) else {}
            error = StudentError(info)
            if error.where:
                testkit.current().touched.append(error.where)
            raise error
        return decode(answer.get("ok"), owner=self, ref_type=Ref)

    # ---- names, modules, code -------------------------------------------------------------
    def ref(self, name: str) -> Any:
        """A name the notebook (or earlier ``exec``) defined: data, or a Ref."""
        return self._ask("name", name=name)

    def value(self, expression: str) -> Any:
        """An expression evaluated in the student's namespace, as plain data."""
        ref = self._ask("eval", expr=expression)
        return ref.value() if isinstance(ref, Ref) else ref

    def eval(self, expression: str) -> Any:
        return self._ask("eval", expr=expression)

    def exec(self, code: str) -> None:
        """Run code in the student's namespace (e.g. ``from model import Net``)."""
        self._ask("exec", code=code)

    def module(self, name: str) -> Ref:
        """Import one of the submission's modules (``model`` for ``model.py``)."""
        return self._ask("import", module=name)

    # ---- processes, files, models ---------------------------------------------------------
    def run(
        self, argv: list[str], timeout: float | None = None, stdin: bytes | None = None
    ) -> Completed:
        """Run a command in the sandbox from the submission's folder (``python`` is the
        student's interpreter)."""
        limit = timeout or self.timeout
        data = self._ask(
            "run", timeout=limit + 5, argv=[str(a) for a in argv], run_timeout=limit,
            stdin=encode(stdin),
        )  # fmt: skip
        return Completed(data["returncode"], data["stdout"], data["stderr"], data["timed_out"])

    def read(self, path: str, max_bytes: int = 50_000_000) -> bytes:
        return self._ask("read", path=path, max_bytes=max_bytes)

    def load_torch_model(
        self, path: str, builder: Any = None, *args: Any, device: str | None = None, **kwargs: Any
    ) -> Ref:
        """A model saved with ``torch.save`` (a whole model, or a ``state_dict`` given to
        ``builder(*args, **kwargs)``), loaded in the sandbox, in eval mode."""
        return self._ask(
            "load_torch", path=path, builder=encode(builder), args=encode(list(args)),
            kwargs=encode(kwargs), device=device,
        )  # fmt: skip

    def load_keras_model(self, path: str) -> Ref:
        """A Keras model (``.h5``, ``.keras`` or a SavedModel folder)."""
        return self._ask("load_keras", path=path)

    def predict(self, model: Any, batch: Any) -> np.ndarray:
        """The model's raw outputs for one batch (a torch module in eval mode without
        gradients, a Keras model's ``predict``, or any callable)."""
        target = encode(model)
        payload = encode(batch)
        return np.asarray(self._ask("predict", target=target, batch=payload, touched=_where(model)))

    def predict_all(self, model: Any, inputs: np.ndarray, batch_size: int = 32, tensor=True):
        """Outputs for every input, sent in batches (``tensor``: as torch tensors)."""
        outputs = []
        for start in range(0, len(inputs), batch_size):
            chunk = np.ascontiguousarray(inputs[start : start + batch_size])
            outputs.append(self.predict(model, testkit.Tensor(chunk) if tensor else chunk))
        return np.concatenate(outputs) if outputs else np.zeros((0,))

    def shown_images(self) -> list[np.ndarray]:
        """The arrays passed to matplotlib's ``imshow`` so far, in order."""
        return list(self._ask("shown"))

    def device(self, import_torch: bool = False) -> dict:
        return self._ask("device", import_torch=import_torch)

    @property
    def cells(self) -> list[dict] | None:
        """The notebook's code cells as executed (status, error name), or None."""
        return self.hello.get("cells")


def _where(value: Any) -> Any:
    return value.where if isinstance(value, RemoteRef) else None
