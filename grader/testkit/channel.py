"""The trusted end of the channel to the student's process: framing and strict decoding.

What arrives here was produced by student code, so it is decoded into plain Python values
and numeric numpy arrays only: JSON, then a walk that accepts a fixed set of tags. No
pickle, no object with behaviour of its own, a size limit on every message, and array
dtypes limited to booleans and numbers.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import struct
import time
from typing import Any

import numpy as np

HEADER = struct.Struct("!Q")
MAX_MESSAGE = 512 * 1024 * 1024


class ChannelError(Exception):
    """The student's process broke the protocol, went away or stopped answering."""


class StudentGone(ChannelError):
    pass


class RemoteRef:
    """A handle on an object that stays in the student's process (set up by ``client``)."""

    def __init__(self, ident: int, type_name: str, text: str, where: list | None, owner: Any):
        self.ident, self.type_name, self.text = ident, type_name, text
        self.where = tuple(where) if isinstance(where, list) and len(where) == 2 else None
        self._owner = owner


def _array(spec: Any) -> np.ndarray:
    if not isinstance(spec, dict):
        raise ChannelError("malformed array")
    dtype = np.dtype(str(spec.get("dtype", "")))
    if dtype.hasobject or dtype.kind not in "biufc" or dtype.fields is not None:
        raise ChannelError(f"array dtype {dtype} is not accepted")
    shape = spec.get("shape")
    if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise ChannelError("malformed array shape")
    raw = base64.b64decode(str(spec.get("data", "")), validate=True)
    if len(raw) != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
        raise ChannelError("array data does not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def decode(value: Any, owner: Any = None, depth: int = 0, ref_type: type = RemoteRef) -> Any:
    """Plain values from the student's encoding; ``ref_type`` objects for references."""
    if depth > 64:
        raise ChannelError("answer nested too deeply")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [decode(v, owner, depth + 1, ref_type) for v in value]
    if not isinstance(value, dict) or len(value) > 6:
        raise ChannelError("malformed answer")
    if "__tuple__" in value:
        return tuple(decode(v, owner, depth + 1, ref_type) for v in value["__tuple__"])
    if "__dict__" in value:
        pairs = value["__dict__"]
        if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 for p in pairs
        ):
            raise ChannelError("malformed mapping")
        result = {}
        for key, item in pairs:
            key = decode(key, owner, depth + 1, ref_type)
            if isinstance(key, list | dict | np.ndarray | RemoteRef):
                raise ChannelError("unhashable mapping key")
            result[key] = decode(item, owner, depth + 1, ref_type)
        return result
    if "__bytes__" in value:
        return base64.b64decode(str(value["__bytes__"]), validate=True)
    if "__float__" in value:
        text = str(value["__float__"])
        if text not in ("nan", "inf", "-inf"):
            raise ChannelError("malformed float")
        return float(text)
    if "__nd__" in value:
        return _array(value["__nd__"])
    if "__ref__" in value and isinstance(value["__ref__"], int):
        return ref_type(
            value["__ref__"], str(value.get("type", ""))[:200], str(value.get("repr", ""))[:200],
            value.get("where"), owner,
        )  # fmt: skip
    raise ChannelError("malformed answer")


def encode(value: Any, depth: int = 0) -> Any:
    """Arguments for the student's process (from the trusted side: tests, hidden data)."""
    from grader.testkit import Tensor

    if depth > 64:
        raise ValueError("argument nested too deeply")
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return (
            value if value == value and abs(value) != float("inf") else {"__float__": repr(value)}
        )
    if isinstance(value, bytes):
        return {"__bytes__": base64.b64encode(value).decode("ascii")}
    if isinstance(value, RemoteRef):
        return {"__ref__": value.ident}
    if isinstance(value, Tensor):
        return {"__nd__": _array_spec(np.asarray(value.array), tensor=True)}
    if isinstance(value, np.ndarray):
        return {"__nd__": _array_spec(value)}
    if isinstance(value, np.generic):
        return encode(value.item(), depth + 1)
    if isinstance(value, list):
        return [encode(v, depth + 1) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {
            "__dict__": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]
        }
    if hasattr(value, "__fspath__"):
        return str(value)
    raise ValueError(f"cannot send a {type(value).__name__} to the student's process")


def _array_spec(array: np.ndarray, tensor: bool = False) -> dict:
    array = np.ascontiguousarray(array)
    if array.dtype.hasobject or array.dtype.kind not in "biufc":
        raise ValueError(f"cannot send an array of dtype {array.dtype}")
    data = base64.b64encode(array.tobytes()).decode("ascii")
    return {"dtype": array.dtype.str, "shape": list(array.shape), "data": data, "tensor": tensor}


class Channel:
    """Request/answer over the session's socket, one request at a time."""

    def __init__(self, sock: socket.socket, max_message: int = MAX_MESSAGE):
        self.sock = sock
        self.max_message = max_message
        self.next_id = 1
        self.dead: str | None = None

    def _exactly(self, size: int, deadline: float) -> bytes:
        chunks, left = [], size
        while left:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(min(left, 1 << 20))
            except TimeoutError:
                raise
            except OSError as exc:
                raise StudentGone(f"the connection broke ({exc})") from None
            if not chunk:
                raise StudentGone("the student's process ended")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def receive(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        (size,) = HEADER.unpack(self._exactly(HEADER.size, deadline))
        if size > self.max_message:
            raise ChannelError(f"an answer of {size} bytes is over the limit")
        try:
            message = json.loads(self._exactly(size, deadline))
        except ValueError:
            raise ChannelError("an answer that is not JSON") from None
        if not isinstance(message, dict):
            raise ChannelError("malformed answer")
        return message

    def send(self, message: dict) -> None:
        data = json.dumps(message).encode()
        try:
            self.sock.settimeout(30)
            self.sock.sendall(HEADER.pack(len(data)) + data)
        except OSError as exc:
            raise StudentGone(f"the student's process does not listen ({exc})") from None

    def request(self, op: str, timeout: float, **fields: Any) -> dict:
        """Send one request; the raw answer (``ok`` or ``error``). A process that does not
        answer within ``timeout`` plus a grace is dead for the rest of the session."""
        if self.dead:
            raise StudentGone(self.dead)
        ident = self.next_id
        self.next_id += 1
        self.send({"id": ident, "op": op, "timeout": timeout, **fields})
        try:
            answer = self.receive(timeout + 5.0)
        except TimeoutError:
            self.dead = f"the student's process stopped answering ({op} ran over {timeout:g} s)"
            raise StudentGone(self.dead) from None
        except ChannelError as exc:
            self.dead = str(exc)
            raise
        if answer.get("id") != ident:
            self.dead = "the student's process answered out of turn"
            raise ChannelError(self.dead)
        return answer

    def close(self) -> None:
        if not self.dead:
            with contextlib.suppress(ChannelError):
                self.send({"id": 0, "op": "bye"})
        self.sock.close()
