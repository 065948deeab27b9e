#!/usr/bin/env bash
# Prove grader's GPU path on a real NVIDIA host, in under 3 minutes, and print the figures.
#
#   sudo bash scripts/gpu_check.sh            # from the grader checkout, as root
#
# Settings (all optional):
#   GRADER_PY=/path/python  the Python that has the grader installed (default: the first of
#                           ./.venv/bin/python, python3 that can `import grader`)
#   RERUN_PY=/path/python3  the students' interpreter, with CUDA torch (default: python3)
#   BWRAP=/path/bwrap       bubblewrap when it is not on PATH (e.g. unpacked from the .deb:
#                           dpkg-deb -x bubblewrap_*.deb /tmp/bw; BWRAP=/tmp/bw/usr/bin/bwrap)
#
# No network is used. Every step has a timeout; a failing step prints why and the script
# goes on. The sandboxed CUDA runs come BEFORE any CUDA process on the host (so a missing
# /dev/nvidia-uvm is seen as the grader sees it). Output: sections, then a SUMMARY.
set -u
REPO=${REPO:-$PWD}
W=/var/tmp/grader-gpu-check
cd "$REPO" || exit 1
rm -rf "$W" && mkdir -p "$W/sub" && chmod 755 "$W" "$W/sub"
SUMMARY="$W/summary.txt"
: > "$SUMMARY"
note() { echo "$*" | tee -a "$SUMMARY"; }
T0=$(date +%s)
DEADLINE=$((T0 + ${GPU_CHECK_SECONDS:-170}))
# seconds a step may take: at most $1, and never past the deadline (5 s kept for the summary)
budget() { local left=$((DEADLINE - $(date +%s) - 5)); [ "$left" -lt "$1" ] && echo $((left > 1 ? left : 1)) || echo "$1"; }

if [ -n "${BWRAP:-}" ]; then export PATH="$(dirname "$BWRAP"):$PATH"; fi
RERUN_PY=${RERUN_PY:-$(command -v python3)}  # NOT resolved: a venv's python must keep its path
G=${GRADER_PY:-}
if [ -z "$G" ]; then
  for cand in "$REPO/.venv/bin/python" "$(command -v python3)"; do
    if [ -x "$cand" ] && timeout 60 "$cand" -c 'import grader' 2>/dev/null; then G=$cand; break; fi
  done
fi
if [ -z "$G" ]; then
  echo "FATAL: no Python can import grader; install the carried wheels, e.g."
  echo "  python3 -m venv .venv && .venv/bin/pip install --no-index --find-links WHEELS grader"
  exit 1
fi
export GRADER_RERUN_PYTHON="$RERUN_PY"

echo "== host"
echo "uid=$(id -u) kernel=$(uname -r) python(grader)=$G rerun python=$RERUN_PY"
echo "virt: $(timeout 5 systemd-detect-virt 2>/dev/null || echo '?')  /proc/version: $(cut -c1-100 /proc/version)"
timeout 5 dmesg 2>/dev/null | grep -iE 'gvisor|firecracker' | head -2
[ "$(id -u)" = 0 ] || note "WARNING: not root: no per-slot uid, no cgroup"
if command -v bwrap >/dev/null && timeout 5 bwrap --version >/dev/null 2>&1; then note "bwrap: $(command -v bwrap) ($(timeout 5 bwrap --version))"
else note "bwrap: MISSING or not runnable (set BWRAP=/path/to/bwrap or install bubblewrap); the CUDA steps fall back to UNSANDBOXED runs"; export GRADER_ALLOW_UNSANDBOXED=1; fi

echo "== nvidia-smi"
timeout 20 nvidia-smi --query-gpu=index,name,driver_version,mig.mode.current,compute_mode,memory.used,memory.total,uuid,pci.bus_id --format=csv,noheader
echo "nvidia-smi rc=$?"
timeout 20 nvidia-smi -L
echo "-- compute apps already on the GPUs:"; timeout 20 nvidia-smi --query-compute-apps=pid,gpu_uuid,used_memory --format=csv,noheader
echo "== device nodes before any CUDA process:"
ls -l /dev/nvidia* 2>&1; ls /dev/nvidia-caps 2>&1 | head
[ -e /dev/nvidia-uvm ] && note "nvidia-uvm at start: present" || note "nvidia-uvm at start: ABSENT (the grader must create it)"
echo "== driver libraries:"
timeout 10 ldconfig -p | grep -E 'libcuda\.so\.1|libnvidia-ml\.so\.1' || echo "NOT in ld.so.cache (LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-})"
grep -q ' /proc/driver/nvidia ' /proc/self/mountinfo && note "/proc/driver/nvidia is overmounted (GPU container)"
echo "cgroup: $(stat -fc %T /sys/fs/cgroup) root subtree_control=[$(cat /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null)]"

echo "== grader doctor (sandbox, cgroup, GPUs/MIG, CUDA self-test per GPU in the sandbox, locks, disk)"
timeout "$(budget 75)" "$G" -m grader doctor --python "$RERUN_PY"
note "doctor exit=$? (0: ready for a spec with gpu: optional)"

echo "== CUDA self-test facts for the first GPU (raw, from inside the sandbox)"
timeout "$(budget 45)" "$G" - "$RERUN_PY" <<'EOF'
import json, sys
from grader.sandbox import choose_sandbox
from grader.sandbox.base import Limits
from grader.sandbox.envs import interpreter_mounts, resolve_interpreter
from grader.sandbox.gpu import gpu_inventory
from grader.sandbox.rerun_device import check_device
inv = gpu_inventory()
print("devices:", [(d.label, d.uuid, d.minor) for d in inv.devices], "problems:", inv.problems)
if not inv.devices:
    open("/var/tmp/grader-gpu-check/summary.txt", "a").write(f"self-test: no GPU the grader can schedule {inv.problems}\n")
    sys.exit("no GPU the grader can schedule")
py = resolve_interpreter(sys.argv[1])
sandbox = choose_sandbox("pinned")
problem, verdict = check_device(sandbox, py, inv.devices[0], Limits(wall_s=40, memory_mb=16384, processes=512),
                                interpreter_mounts(py), {"PATH": "/usr/local/bin:/usr/bin:/bin"})
print("sandbox:", sandbox.name, getattr(sandbox, "layout", ""), "| problem:", problem)
if verdict is not None:
    print(json.dumps(verdict.payload, indent=1)[:3000])
    print("verdict:", verdict.summary(), "| warnings:", verdict.warnings)
    if verdict.output is not None and not verdict.payload:
        print("stderr:", verdict.output.stderr[-1500:])
with open("/var/tmp/grader-gpu-check/summary.txt", "a") as out:
    out.write(f"self-test GPU0 ({sandbox.name}): {problem or verdict.summary()}\n")
EOF

echo "== a small CUDA training through the real rerun path (gpu: required, full mode)"
cat > "$W/sub/train.py" <<'EOF'
import getpass, os, threading, time
import torch
print("user:", getpass.getuser(), "| CUDA_VISIBLE_DEVICES:", os.environ.get("CUDA_VISIBLE_DEVICES"))
ts = [threading.Thread(target=time.sleep, args=(0.2,)) for _ in range(300)]
[t.start() for t in ts]; [t.join() for t in ts]; print("300 threads: ok")
assert torch.cuda.is_available(), "CUDA not available inside the rerun"
dev = torch.device("cuda")
print("device:", torch.cuda.get_device_name(0), "torch", torch.__version__, "cuda", torch.version.cuda)
torch.manual_seed(0)
x = torch.randn(65536, 512, device=dev); w = torch.randn(512, 1, device=dev); y = x @ w + 0.1 * torch.randn(65536, 1, device=dev)
model = torch.nn.Sequential(torch.nn.Linear(512, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 1)).to(dev)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
torch.cuda.synchronize(); start = time.time()
for epoch in range(1, 6):
    for i in range(0, 65536, 4096):
        opt.zero_grad(); loss = torch.nn.functional.mse_loss(model(x[i:i + 4096]), y[i:i + 4096]); loss.backward(); opt.step()
    torch.cuda.synchronize()
    print(f"Epoch {epoch}/5 - loss: {loss.item():.4f}")
print(f"train_seconds: {time.time() - start:.2f}")
EOF
echo 'import torch; torch.empty(2**44, dtype=torch.uint8, device="cuda")' > "$W/sub/oom.py"
timeout "$(budget 90)" "$G" - "$RERUN_PY" "$W" <<'EOF'
import os, sys, time
from pathlib import Path
from grader.sandbox.base import Limits, SandboxError
from grader.sandbox.queue import RunQueue
from grader.sandbox.session import RerunPlan, run_plan
py, w = sys.argv[1], Path(sys.argv[2])
plan = RerunPlan(commands=["python train.py", "python oom.py"], notebooks=[], mode="full", gpu="required",
                 limits=Limits(wall_s=75, memory_mb=16384, processes=512), python=py)
start = time.time()
try:
    try:
        rec = run_plan(plan, w / "sub", w / "out", RunQueue())
    except SandboxError as exc:  # no usable bubblewrap: measure CUDA unsandboxed, and say so
        open(w / "summary.txt", "a").write(f"rerun: SANDBOX UNUSABLE ({exc}); retried UNSANDBOXED\n")
        os.environ["GRADER_ALLOW_UNSANDBOXED"] = "1"
        start = time.time()
        rec = run_plan(plan, w / "sub", w / "out", RunQueue())
except Exception as exc:  # EnvironmentFailure: "not graded (environment)"
    line = f"rerun: {type(exc).__name__}: {exc}"
    print(line); open(w / "summary.txt", "a").write(line + "\n"); sys.exit(0)
total = time.time() - start
print("device recorded:", rec.device)
print("sandbox:", rec.sandbox, "| self-test:", rec.self_test.summary() if rec.self_test else None)
for r in rec.runs:
    print(f"-- {' '.join(r.command)}: rc={r.returncode} limit={r.limit_hit} wall={r.wall_s}s memory_bound={r.memory_bound!r}")
    print("   warnings:", r.warnings)
    print(r.stdout[-1500:], "\n   stderr:", r.stderr[-800:])
train = rec.runs[0] if rec.runs else None
summary = [
    f"rerun device: {rec.device.get('name')} uuid={rec.device.get('uuid')} self_test={rec.device.get('self_test')}",
    f"training (through run_plan, sandbox {rec.sandbox}): rc={train.returncode if train else None} "
    f"command wall {train.wall_s if train else '?'} s, whole rerun incl. self-test {total:.1f} s; "
    + next((l for l in (train.stdout.splitlines() if train else []) if l.startswith("train_seconds")), "train_seconds: ?"),
    f"memory bound: {train.memory_bound if train else '?'}",
    f"CUDA OOM classified as: {rec.runs[1].limit_hit if len(rec.runs) > 1 else 'not reached'} (expected gpu_memory)",
]
open(w / "summary.txt", "a").write("\n".join(summary) + "\n")
print("\n".join(summary))
EOF

echo "== queue: N+1 leases of 3 s on N GPU(s) (gpu: required): exactly one should wait ~3 s per extra job"
N=$(timeout 20 nvidia-smi -L 2>/dev/null | grep -c '^GPU')
for _ in $(seq 0 "$N"); do
  timeout "$(budget 25)" "$G" -c 'import time; from grader.sandbox.queue import RunQueue
q = RunQueue()
with q.lease("required") as l: time.sleep(3); print("lease", l.gpus[0].label, "uuid", l.gpus[0].uuid, "waited %.1f s" % l.waited_s, "lock dir", q.lock_dir)' >> "$W/queue.txt" 2>&1 &
done
wait
cat "$W/queue.txt"
note "queue: $(grep -c '^lease ' "$W/queue.txt") of $((N + 1)) leases granted on $N GPU(s); waits: $(grep -o 'waited [0-9.]* s' "$W/queue.txt" | tr '\n' ' ')$(grep -ho '[A-Za-z]*Error: .*' "$W/queue.txt" | sort -u | head -2)"

echo "== experiment (not used by the grader): does CUDA work under RLIMIT_DATA=16 GiB (a GPU memory bound without cgroups)?"
timeout "$(budget 30)" prlimit --data=$((16 << 30)) "$RERUN_PY" -c 'import torch; x = torch.randn(4096, 4096, device="cuda"); print("RLIMIT_DATA 16 GiB: CUDA ok", (x @ x).norm().item() > 0)' 2>&1 | tail -2 | tee -a "$SUMMARY"

echo "== host CUDA afterwards (creates /dev/nvidia-uvm if still missing)"
timeout "$(budget 30)" "$RERUN_PY" -c 'import torch; print("host:", torch.cuda.device_count(), "GPU(s)", torch.cuda.get_device_name(0))' 2>&1 | tail -1
ls -l /dev/nvidia-uvm* 2>&1

echo
echo "================ SUMMARY ($(( $(date +%s) - T0 )) s) ================"
cat "$SUMMARY"
