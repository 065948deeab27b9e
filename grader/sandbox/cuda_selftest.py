"""The CUDA self-test. Runs INSIDE the sandbox, with the rerun's own Python, before any
student code: ``python -I -c SOURCE``. Standard library only (the grader is not visible
in the sandbox), plus torch when that Python has it.

1. the driver (``libcuda.so.1`` through ctypes): init, the visible device's name, UUID and
   memory, a context, a memory round trip, and a small kernel JIT-compiled from PTX;
2. torch, when importable: its version and CUDA build, whether it sees the GPU, and a
   matmul on the GPU checked against the CPU.

Prints one line: the marker, then JSON. The grader decides what the facts mean.
"""

import ctypes
import json
import os
import sys
import time

MARKER = "GRADER-CUDA-SELFTEST "
PTX = b"""
.version 6.0
.target sm_50
.address_size 64
.visible .entry fill(.param .u64 p_out, .param .u32 p_n)
{
  .reg .pred %p<2>;
  .reg .b32 %r<10>;
  .reg .b64 %rd<6>;
  ld.param.u64 %rd1, [p_out];
  ld.param.u32 %r1, [p_n];
  mov.u32 %r2, %ctaid.x;
  mov.u32 %r3, %ntid.x;
  mov.u32 %r4, %tid.x;
  mad.lo.s32 %r5, %r2, %r3, %r4;
  setp.ge.u32 %p1, %r5, %r1;
  @%p1 bra DONE;
  cvta.to.global.u64 %rd2, %rd1;
  mul.wide.u32 %rd3, %r5, 4;
  add.s64 %rd4, %rd2, %rd3;
  mul.lo.s32 %r6, %r5, 3;
  add.s32 %r7, %r6, 7;
  st.global.u32 [%rd4], %r7;
DONE:
  ret;
}
\x00"""


def _uuid(raw):
    hexed = bytes(raw).hex()
    return "GPU-" + "-".join(hexed[a:b] for a, b in ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32)))


class CudaError(RuntimeError):
    pass


def driver_test():
    out = {"loaded": False, "ok": False}
    try:
        lib = ctypes.CDLL("libcuda.so.1")
    except OSError as exc:
        out["error"] = f"libcuda.so.1 does not load: {exc}"
        return out
    out["loaded"] = True

    def error_name(code):
        name = ctypes.c_char_p()
        try:
            lib.cuGetErrorName(code, ctypes.byref(name))
        except AttributeError:
            return str(code)
        return f"{name.value.decode()} ({code})" if name.value else str(code)

    def call(fn, *args):
        code = getattr(lib, fn)(*args)
        if code != 0:
            raise CudaError(f"{fn} failed: {error_name(code)}")

    byref = ctypes.byref
    try:
        call("cuInit", 0)
        version, count, dev = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        call("cuDriverGetVersion", byref(version))
        out["version"] = version.value
        call("cuDeviceGetCount", byref(count))
        out["count"] = count.value
        if count.value < 1:
            raise CudaError("the driver sees no CUDA device")
        call("cuDeviceGet", byref(dev), 0)
        name = ctypes.create_string_buffer(256)
        call("cuDeviceGetName", name, 256, dev)
        out["name"] = name.value.decode(errors="replace")
        raw = ctypes.create_string_buffer(16)
        getter = "cuDeviceGetUuid_v2" if hasattr(lib, "cuDeviceGetUuid_v2") else "cuDeviceGetUuid"
        call(getter, raw, dev)
        out["uuid"] = _uuid(raw.raw)
        memory = ctypes.c_size_t()
        call("cuDeviceTotalMem_v2", byref(memory), dev)
        out["memory_mb"] = memory.value // (1024 * 1024)
        context = ctypes.c_void_p()
        call("cuCtxCreate_v2", byref(context), 0, dev)
        try:
            out["memory_round_trip"] = _round_trip(call)
            out["ok"] = out["memory_round_trip"]
            out["kernel"] = _kernel(call)
        finally:
            lib.cuCtxDestroy_v2(context)
    except (CudaError, AttributeError) as exc:
        out["error"] = str(exc)
    return out


def _round_trip(call):
    count = 1 << 16
    pointer = ctypes.c_uint64()
    call("cuMemAlloc_v2", ctypes.byref(pointer), ctypes.c_size_t(count * 4))
    try:
        call("cuMemsetD32_v2", pointer, ctypes.c_uint(0x600DCAFE), ctypes.c_size_t(count))
        host = (ctypes.c_uint * count)()
        call("cuMemcpyDtoH_v2", host, pointer, ctypes.c_size_t(count * 4))
    finally:
        call("cuMemFree_v2", pointer)
    return all(value == 0x600DCAFE for value in host)


def _kernel(call):
    """A kernel JIT-compiled from PTX writes 3*i+7 to each element (a real launch)."""
    count = 1000
    module, function, pointer = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_uint64()
    try:
        call("cuModuleLoadData", ctypes.byref(module), ctypes.c_char_p(PTX))
        call("cuModuleGetFunction", ctypes.byref(function), module, b"fill")
        call("cuMemAlloc_v2", ctypes.byref(pointer), ctypes.c_size_t(count * 4))
        arg_out, arg_n = ctypes.c_uint64(pointer.value), ctypes.c_uint(count)
        params = (ctypes.c_void_p * 2)(
            ctypes.cast(ctypes.pointer(arg_out), ctypes.c_void_p),
            ctypes.cast(ctypes.pointer(arg_n), ctypes.c_void_p),
        )
        call("cuLaunchKernel", function, 4, 1, 1, 256, 1, 1, 0, None, params, None)
        call("cuCtxSynchronize")
        host = (ctypes.c_uint * count)()
        call("cuMemcpyDtoH_v2", host, pointer, ctypes.c_size_t(count * 4))
        call("cuMemFree_v2", pointer)
    except (CudaError, AttributeError) as exc:
        return f"failed: {exc}"
    return "ok" if all(host[i] == 3 * i + 7 for i in range(count)) else "wrong results"


def torch_test():
    try:
        import torch
    except ModuleNotFoundError:
        return {"present": False}
    except Exception as exc:  # a broken install is reported, not raised
        return {"present": True, "error": f"torch does not import: {type(exc).__name__}: {exc}"}
    out = {"present": True, "version": torch.__version__, "cuda": torch.version.cuda}
    try:
        torch.cuda.init()
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"[:600]
    out["available"] = torch.cuda.is_available()
    if not out["available"]:
        return out
    start = time.monotonic()
    try:
        props = torch.cuda.get_device_properties(0)
        out["device_count"] = torch.cuda.device_count()
        out["name"] = props.name
        out["memory_mb"] = props.total_memory // (1024 * 1024)
        out["capability"] = f"{props.major}.{props.minor}"
        out["uuid"] = str(getattr(props, "uuid", "") or "")
        generator = torch.Generator().manual_seed(0)
        a = torch.randn(512, 512, generator=generator)
        on_gpu = (a.cuda() @ a.cuda().T).cpu()
        torch.cuda.synchronize()
        expected = a @ a.T
        error = float((on_gpu - expected).abs().max() / expected.abs().max())
        out["matmul_ok"] = error < 1e-2
        out["matmul_error"] = error
    except Exception as exc:
        out["matmul_ok"] = False
        out["error"] = f"{type(exc).__name__}: {exc}"[:600]
    out["seconds"] = round(time.monotonic() - start, 3)
    return out


def main():
    start = time.monotonic()
    payload = {
        "python": sys.executable,
        "python_version": sys.version.split()[0],
        "visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "dev_nodes": sorted(n for n in os.listdir("/dev") if n.startswith("nvidia")),
    }
    try:
        payload["driver"] = driver_test()
    except Exception as exc:
        payload["driver"] = {"loaded": False, "ok": False, "error": repr(exc)}
    try:
        payload["torch"] = torch_test()
    except Exception as exc:
        payload["torch"] = {"present": True, "error": repr(exc)}
    payload["seconds"] = round(time.monotonic() - start, 3)
    print(MARKER + json.dumps(payload), flush=True)


if __name__ == "__main__":
    main()
