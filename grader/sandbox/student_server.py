"""The student side of an instructor-test session. Runs INSIDE the sandbox as a standalone
script; it imports nothing of the grader (the grader is not visible there).

Usage: python student_server.py SOCKET CONFIG_JSON

It imports the spec's ``preload`` modules, connects to the grader's socket and says
"ready"; it may be started before its submission is known (a warm pool). On "begin" (the
submission's files are in its work dir by then) it executes the notebook (if any), code
cell by code cell with a per-cell timeout that interrupts and goes on, says "hello" with
what the cells did, and answers requests from the instructor's tests, which run OUTSIDE
the sandbox: import a
module, evaluate an expression, call a function, run a command, read a file, load a saved
model, predict a batch. Every answer is data (plain values and numeric arrays) or a
reference to an object that stays here. Nothing this process says is trusted: the grader
decides every test outcome outside the sandbox, from these answers.
"""

import base64
import builtins
import importlib
import importlib.abc
import importlib.util
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import traceback

HEADER = struct.Struct("!Q")
MAX_DEPTH = 40
MAX_ITEMS = 200_000
SHOWN_LIMIT = 20
WORK = os.getcwd()


class GraderTimeout(BaseException):
    """Raised at the per-cell or per-request time limit (a BaseException, as Ctrl-C is)."""


def _alarm(_signum, _frame):
    raise GraderTimeout()


def with_timeout(seconds, function, *args):
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, max(0.001, float(seconds)))
    try:
        return function(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ---- where in the student's files ------------------------------------------------------


def student_file(filename):
    if not filename:
        return None
    if filename.startswith("<code cell"):
        return filename.strip("<>")
    if filename.startswith("<"):
        return None
    path = os.path.abspath(filename)
    if path.startswith(WORK + os.sep) and "/.grader-run/" not in path:
        return os.path.relpath(path, WORK)
    return None


def where_of(obj):
    code = getattr(obj, "__code__", None) or getattr(
        getattr(obj, "__func__", None), "__code__", None
    )
    if code is None and callable(getattr(obj, "forward", None)):
        code = getattr(obj.forward, "__code__", None)
    if code is not None:
        name = student_file(code.co_filename)
        return [name, code.co_firstlineno] if name else None
    return None


def exception_info(exc):
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if student_file(f.filename)]
    where = [student_file(mine[-1].filename), mine[-1].lineno] if mine else None
    if isinstance(exc, SyntaxError) and student_file(exc.filename or ""):
        where = [student_file(exc.filename), exc.lineno]
    lines = [f"  {student_file(f.filename)}, line {f.lineno}, in {f.name}" for f in mine[-6:]]
    return {
        "type": type(exc).__name__,
        "message": str(exc)[:2000],
        "where": where,
        "traceback": "\n".join(lines),
    }


# ---- encoding answers --------------------------------------------------------------------


class Refs:
    def __init__(self):
        self.objects = {}
        self.next_id = 1

    def add(self, obj):
        ident = self.next_id
        self.next_id += 1
        self.objects[ident] = obj
        return ident


REFS = Refs()


def _array(value, tensor=False):
    import numpy

    array = numpy.ascontiguousarray(value)
    if array.dtype.hasobject or array.dtype.kind not in "biufc" or array.dtype.fields:
        raise TypeError(f"array of dtype {array.dtype} cannot leave the sandbox")
    data = base64.b64encode(array.tobytes()).decode("ascii")
    return {
        "__nd__": {
            "dtype": array.dtype.str,
            "shape": list(array.shape),
            "data": data,
            "tensor": tensor,
        }
    }


def is_data(value):
    try:
        encode(value, force=True)
    except TypeError:
        return False
    return True


def encode(value, force=False, depth=0):
    """Plain data as JSON-able values; anything else as a reference (or TypeError with
    ``force``)."""
    if depth > MAX_DEPTH:
        raise TypeError("nested too deeply")
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return (
            value if value == value and abs(value) != float("inf") else {"__float__": repr(value)}
        )
    if kind is bytes:
        return {"__bytes__": base64.b64encode(value).decode("ascii")}
    if kind in (list, tuple):
        if len(value) > MAX_ITEMS:
            raise TypeError("too many items")
        items = [encode(v, force, depth + 1) for v in value]
        return items if kind is list else {"__tuple__": items}
    if kind is dict:
        if len(value) > MAX_ITEMS:
            raise TypeError("too many items")
        return {
            "__dict__": [
                [encode(k, force, depth + 1), encode(v, force, depth + 1)] for k, v in value.items()
            ]
        }
    module = kind.__module__ or ""
    if module == "numpy" and kind.__name__ == "ndarray":
        return _array(value)
    if module == "numpy" and hasattr(value, "item") and getattr(value, "shape", None) == ():
        return encode(value.item(), force, depth + 1)
    if module.startswith("torch") and kind.__name__ in ("Tensor", "Parameter"):
        return _array(value.detach().cpu().numpy(), tensor=True)
    if module == "torch" and kind.__name__ == "Size":
        return {"__tuple__": [int(v) for v in value]}
    if module.startswith("pathlib"):
        return str(value)
    if force:
        raise TypeError(f"a {kind.__name__} is not plain data")
    return {
        "__ref__": REFS.add(value),
        "type": f"{module}.{kind.__qualname__}",
        "repr": _short_repr(value),
        "where": where_of(value),
        "callable": callable(value),
    }


def _short_repr(value):
    try:
        return repr(value)[:200]
    except Exception:  # noqa: BLE001 - a broken __repr__ is the student's business
        return f"<{type(value).__name__}>"


def decode(value):
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__ref__" in value:
        return REFS.objects[value["__ref__"]]
    if "__tuple__" in value:
        return tuple(decode(v) for v in value["__tuple__"])
    if "__dict__" in value:
        return {decode(k): decode(v) for k, v in value["__dict__"]}
    if "__bytes__" in value:
        return base64.b64decode(value["__bytes__"])
    if "__float__" in value:
        return float(value["__float__"])
    if "__nd__" in value:
        import numpy

        spec = value["__nd__"]
        raw = base64.b64decode(spec["data"])
        array = numpy.frombuffer(raw, dtype=numpy.dtype(spec["dtype"])).reshape(spec["shape"])
        array = array.copy()
        if spec.get("tensor"):
            import torch

            return torch.from_numpy(array)
        return array
    return value


# ---- notebooks -----------------------------------------------------------------------------


class ShownImages(importlib.abc.MetaPathFinder):
    """Records the arrays passed to matplotlib's imshow (patched when matplotlib.axes loads)."""

    images = []

    def find_spec(self, fullname, path, target=None):
        if fullname != "matplotlib.axes":
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        loader, record = spec.loader, self.record

        class Patched(importlib.abc.Loader):
            def create_module(self, spec):
                return loader.create_module(spec)

            def exec_module(self, module):
                loader.exec_module(module)
                original = module.Axes.imshow

                def imshow(axes, X, *args, **kwargs):
                    record(X)
                    return original(axes, X, *args, **kwargs)

                module.Axes.imshow = imshow

        spec.loader = Patched()
        return spec

    @classmethod
    def record(cls, image):
        try:
            import numpy

            array = numpy.array(image)
            if len(cls.images) < SHOWN_LIMIT and array.nbytes <= 16 * 1024 * 1024:
                cls.images.append(array)
        except Exception:  # noqa: BLE001 - recording must never break the student's cell
            pass


def cell_source(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def strip_magics(source):
    """IPython magics and shell escapes become no-ops (there is no shell or network here)."""
    lines, dropped = [], 0
    if source.lstrip().startswith("%%"):
        return "", 1
    for line in source.splitlines():
        if line.lstrip().startswith(("%", "!")):
            indent = line[: len(line) - len(line.lstrip())]
            lines.append(indent + "pass  # grader: magic or shell line left out")
            dropped += 1
        else:
            lines.append(line)
    return "\n".join(lines), dropped


def run_notebook(path, namespace, cell_timeout):
    """Execute the code cells; a cell that fails or runs over is recorded, and execution
    goes on (as nbgrader and nbclient with allow_errors do)."""
    with open(path, encoding="utf-8") as handle:
        notebook = json.load(handle)
    cells = [c for c in notebook.get("cells", []) if c.get("cell_type") == "code"]
    summary = []
    for number, cell in enumerate(cells, start=1):
        source, dropped = strip_magics(cell_source(cell))
        entry = {"cell": number, "status": "ok"}
        if dropped:
            entry["magics_skipped"] = dropped
        started = time.monotonic()
        try:
            code = compile(source, f"<code cell {number}>", "exec")
            with_timeout(cell_timeout, exec, code, namespace)
        except GraderTimeout:
            entry["status"] = "timeout"
        except SyntaxError as exc:
            entry.update(
                status="error", ename="SyntaxError", evalue=str(exc)[:300], line=exc.lineno
            )
        except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt too
            info = exception_info(exc)
            entry.update(
                status="error",
                ename=info["type"],
                evalue=info["message"][:300],
                line=(info["where"] or [None, None])[1],
            )
        entry["seconds"] = round(time.monotonic() - started, 3)
        summary.append(entry)
        sys.stdout.flush()
    return summary


# ---- requests --------------------------------------------------------------------------------


class Server:
    def __init__(self, namespace):
        self.namespace = namespace

    def op_eval(self, req):
        return eval(compile(req["expr"], "<test expression>", "eval"), self.namespace)

    def op_exec(self, req):
        exec(compile(req["code"], "<test code>", "exec"), self.namespace)
        return None

    def op_name(self, req):
        name = req["name"]
        if name not in self.namespace:
            raise NameError(f"name {name!r} is not defined by the submission")
        return self.namespace[name]

    def op_import(self, req):
        return importlib.import_module(req["module"])

    def op_getattr(self, req):
        return getattr(decode(req["target"]), req["name"])

    def op_getitem(self, req):
        return decode(req["target"])[decode(req["key"])]

    def op_call(self, req):
        function = decode(req["target"])
        return function(*decode(req.get("args", [])), **decode(req.get("kwargs", {"__dict__": []})))

    def op_value(self, req):
        return _Forced(decode(req["target"]))

    def op_release(self, req):
        REFS.objects.pop(req["ref"], None)
        return None

    def op_run(self, req):
        try:
            done = subprocess.run(
                req["argv"],
                cwd=WORK,
                input=decode(req.get("stdin")),
                capture_output=True,
                timeout=req.get("run_timeout"),
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            return {
                "returncode": None,
                "timed_out": True,
                "stdout": (exc.stdout or b"")[-1_000_000:],
                "stderr": (exc.stderr or b"")[-1_000_000:],
            }
        return {
            "returncode": done.returncode,
            "timed_out": False,
            "stdout": done.stdout[-1_000_000:],
            "stderr": done.stderr[-1_000_000:],
        }

    def op_read(self, req):
        path = os.path.realpath(os.path.join(WORK, req["path"]))
        if not path.startswith(WORK + os.sep):
            raise PermissionError(f"{req['path']} is outside the submission")
        with open(path, "rb") as handle:
            data = handle.read(req.get("max_bytes", 50_000_000) + 1)
        if len(data) > req.get("max_bytes", 50_000_000):
            raise ValueError(f"{req['path']} is larger than {req.get('max_bytes')} bytes")
        return data

    def op_shown(self, req):
        return list(ShownImages.images)

    def op_device(self, req):
        info = {"python": sys.version.split()[0]}
        if "torch" in sys.modules or req.get("import_torch"):
            import torch

            info["torch"] = torch.__version__
            info["cuda"] = bool(torch.cuda.is_available())
            if info["cuda"]:
                info["device_name"] = torch.cuda.get_device_name(0)
        return info

    def op_load_torch(self, req):
        import torch

        device = req.get("device") or ("cuda" if torch.cuda.is_available() else "cpu")
        path = os.path.join(WORK, req["path"])
        try:
            loaded = torch.load(path, map_location=device, weights_only=True)
        except Exception:  # noqa: BLE001 - a whole pickled model, not a state_dict
            loaded = torch.load(path, map_location=device, weights_only=False)
        if isinstance(loaded, torch.nn.Module):
            model = loaded
        else:
            state = loaded
            for key in ("state_dict", "model_state_dict", "model"):
                if isinstance(state, dict) and isinstance(state.get(key), dict):
                    state = state[key]
            if req.get("builder") is None:
                raise ValueError(f"{req['path']} holds a state_dict; a builder is needed")
            builder = decode(req["builder"])
            model = builder(
                *decode(req.get("args", [])), **decode(req.get("kwargs", {"__dict__": []}))
            )
            model.load_state_dict(state)
        return model.to(device).eval()

    def op_load_keras(self, req):
        try:
            import keras
        except ImportError:
            from tensorflow import keras
        return keras.models.load_model(os.path.join(WORK, req["path"]))

    def op_predict(self, req):
        model, batch = decode(req["target"]), decode(req["batch"])
        module = type(model).__module__ or ""
        if "torch" in sys.modules and isinstance(model, sys.modules["torch"].nn.Module):
            torch = sys.modules["torch"]
            parameter = next(model.parameters(), None)
            device = parameter.device if parameter is not None else "cpu"
            with torch.no_grad():
                out = model(torch.as_tensor(batch).to(device))
            out = out[0] if isinstance(out, (tuple, list)) else getattr(out, "logits", out)
            return out.detach().float().cpu().numpy()
        if hasattr(model, "predict") and ("keras" in module or "tensorflow" in module):
            return model.predict(batch, verbose=0)
        return model(batch)

    def handle(self, req):
        op = getattr(self, "op_" + req.get("op", ""), None)
        if op is None:
            return {
                "id": req.get("id"),
                "error": {"type": "ProtocolError", "message": f"unknown op {req.get('op')!r}"},
            }
        try:
            value = with_timeout(req.get("timeout", 60), op, req)
            if isinstance(value, _Forced):
                return {"id": req["id"], "ok": encode(value.value, force=True)}
            return {"id": req["id"], "ok": encode(value, force=req.get("force", False))}
        except GraderTimeout:
            return {
                "id": req["id"],
                "error": {
                    "type": "Timeout",
                    "message": f"no answer within {req.get('timeout')} s",
                    "where": None,
                    "traceback": "",
                },
            }
        except BaseException as exc:  # noqa: BLE001 - every failure is an answer
            return {"id": req["id"], "error": exception_info(exc)}


class _Forced:
    def __init__(self, value):
        self.value = value


def send(sock, message):
    data = json.dumps(message).encode()
    sock.sendall(HEADER.pack(len(data)) + data)


def receive(sock):
    head = _exactly(sock, HEADER.size)
    if head is None:
        return None
    (size,) = HEADER.unpack(head)
    body = _exactly(sock, size)
    return None if body is None else json.loads(body)


def _exactly(sock, size):
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def main(argv):
    socket_path, config = argv[0], json.loads(argv[1])
    sys.path.insert(0, WORK)
    sys.meta_path.insert(0, ShownImages())
    preload_errors = {}
    for name in config.get("preload", []):
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - reported, never fatal
            preload_errors[name] = f"{type(exc).__name__}: {exc}"[:300]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(socket_path)
    send(
        sock,
        {
            "ready": {
                "pid": os.getpid(),
                "python": sys.version.split()[0],
                "preload_errors": preload_errors,
            }
        },
    )
    sock.settimeout(config.get("idle_s", 120))  # a pre-started process waits this long
    try:
        begin = receive(sock)
    except OSError:
        return
    sock.settimeout(None)
    if begin is None or begin.get("op") != "begin":
        return
    importlib.invalidate_caches()  # the submission's files arrived after the start
    notebook = begin.get("notebook")
    sys.argv = [notebook or "student"]
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    namespace["display"] = lambda *values, **_: print(*values)
    started = time.monotonic()
    cells = None
    if notebook:
        try:
            cells = run_notebook(notebook, namespace, begin.get("cell_timeout", 60))
        except (OSError, ValueError) as exc:
            cells = [
                {
                    "cell": 0,
                    "status": "error",
                    "ename": type(exc).__name__,
                    "evalue": f"the notebook cannot be read: {exc}"[:300],
                }
            ]
    else:
        namespace["__name__"] = "__grader_tests__"
    send(
        sock,
        {
            "hello": {
                "cells": cells,
                "preload_errors": preload_errors,
                "seconds": round(time.monotonic() - started, 3),
            }
        },
    )
    server = Server(namespace)
    while True:
        request = receive(sock)
        if request is None or request.get("op") == "bye":
            break
        send(sock, server.handle(request))
    sock.close()


if __name__ == "__main__":
    main(sys.argv[1:])
