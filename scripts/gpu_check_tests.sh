#!/usr/bin/env bash
# The hw4 hidden-model evaluation and a rerun on CUDA (issue 16), on a real NVIDIA host.
#
#   sudo bash scripts/gpu_check_tests.sh            # from the grader checkout, as root
#
# Needs: an NVIDIA GPU with its driver (nvidia-smi), a python with CUDA torch, numpy,
# scikit-learn and the grader installed (PYTHON, default /opt/torch/.venv/bin/python3),
# git. No network. torchvision is used when present (the real hw4 reference, ResNet-18);
# without it a torch-only stand-in of the same contract (build_model, output/model.pt) is
# graded and the script says so. Without a working bubblewrap the student code runs
# unsandboxed (GRADER_ALLOW_UNSANDBOXED=1), and the script says so. At most 3 minutes
# (the two grading steps are bounded by 90 s and 80 s).
#
# What it does, all through the grader's CLI:
#   1. `grader reference hw4-transfer --rerun smoke`: the reference solution's training is
#      rerun on the GPU and the hidden test evaluates the model it wrote on hidden images;
#      prints the measured hidden accuracy and the devices from reference.json;
#   2. `grader batch` of two students (the same reference code) with --jobs 2 on
#      $GPUS GPU(s): each rerun and each tests session leases one GPU, at most one job
#      per GPU (with one GPU the second waits: see "waited");
#   3. a summary: device, wall time, waits, hidden accuracy, points; FAILED if anything
#      ran on the CPU or failed.
set -u
cd "$(dirname "$0")/.."
PY="${PYTHON:-/opt/torch/.venv/bin/python3}"
[ -x "$PY" ] || PY="$(command -v python3)"
START=$(date +%s)
say() { printf '\n== %s\n' "$*"; }

say "host"
nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader || {
  echo "FAILED: nvidia-smi does not run"; exit 1; }
"$PY" - <<'EOF' || { echo "FAILED: $PY lacks torch/numpy/sklearn/grader"; exit 1; }
import grader, numpy, sklearn, torch
print(f"python {__import__('sys').version.split()[0]}, grader {grader.__version__}, "
      f"torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}, "
      f"devices: {[torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]}")
EOF
PROBLEM=$("$PY" -c "from grader.sandbox.bwrap import bwrap_problem; print(bwrap_problem() or '')")
if [ -n "$PROBLEM" ]; then
  export GRADER_ALLOW_UNSANDBOXED=1
  echo "NOTE: no sandbox ($PROBLEM): student code runs UNSANDBOXED (GRADER_ALLOW_UNSANDBOXED=1)"
else
  echo "sandbox: bubblewrap works"
fi
GPUS=$(nvidia-smi -L | wc -l)
echo "GPUs: $GPUS"

WORK=$(mktemp -d /tmp/gpu-check-tests.XXXX)
export GRADER_INSTRUCTOR_DIR="$WORK/instructor" GRADER_CACHE="$WORK/cache"
export GRADER_SANDBOX_DIR="$WORK/sandbox" GRADER_RERUN_PYTHON="$PY" GRADER_RERUN_SLOTS=2
REF="$GRADER_INSTRUCTOR_DIR/hw4-transfer"
mkdir -p "$GRADER_INSTRUCTOR_DIR"
cp -r reference_solutions/hw4-transfer "$REF"
rm -rf "$REF/example_output" "$REF/reference.json"
if ! "$PY" -c "import torchvision" 2>/dev/null; then
  echo "NOTE: torchvision is missing: grading a torch-only stand-in (small CNN) of the hw4 contract"
  "$PY" - "$REF/train.py" <<'EOF'
import re, sys
path = sys.argv[1]
text = open(path).read()
stand_in = '''
def build_model(num_classes: int, weights_name: str = "none") -> nn.Module:
    return _Net(num_classes)


class _Net(nn.Module):
    """torch-only stand-in for ResNet-18 (no torchvision here): conv layers, a head `fc`,
    an upper block `layer4` that stage 2 unfreezes."""

    def __init__(self, num_classes):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU())
        self.layer4 = nn.Sequential(nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        return self.fc(self.layer4(self.body(x)))
'''
text = re.sub(r"def build_model\(.*?\n    return model\n", stand_in, text, flags=re.S)
text = text.replace("from torchvision import datasets, transforms\n", "")
text = text.replace("from torchvision.models import ResNet18_Weights, resnet18\n", "")
text = re.sub(r"def preprocessing\(.*?\n\n\ndef load_split", '''def preprocessing(weights_name, image_size):
    import numpy as np
    mean, std = np.array(IMAGENET_MEAN, "float32"), np.array(IMAGENET_STD, "float32")
    def run(image):
        from PIL import Image
        image = image.convert("RGB").resize((image_size, image_size), Image.BILINEAR)
        array = (np.asarray(image, dtype="float32") / 255.0 - mean) / std
        return torch.from_numpy(array.transpose(2, 0, 1).copy())
    return run


def load_split''', text, flags=re.S)
text = re.sub(r"def load_split\(.*?\n\n\ndef build_model", '''def load_split(root, split, preprocess, train):
    from pathlib import Path
    from PIL import Image
    classes = sorted(d.name for d in Path(root, split).iterdir() if d.is_dir())
    items = [(p, i) for i, c in enumerate(classes) for p in sorted(Path(root, split, c).iterdir())]
    class Set(torch.utils.data.Dataset):
        def __len__(self):
            return len(items)
        def __getitem__(self, k):
            return preprocess(Image.open(items[k][0])), items[k][1]
    data = Set()
    data.classes = classes
    return data


def build_model''', text, flags=re.S)
open(path, "w").write(text)
EOF
fi
SHAPES="python make_shapes.py --out data --train 24 --val 8 --test 8 --size 32"

say "1. grader reference hw4-transfer --rerun smoke (the reference's rerun and hidden test)"
T0=$(date +%s)
timeout 90 "$PY" -m grader reference hw4-transfer --rerun smoke --setup "$SHAPES"
echo "reference run: $(( $(date +%s) - T0 )) s"
"$PY" - "$REF/reference.json" <<'EOF'
import json, sys
run = json.load(open(sys.argv[1]))["runs"]["smoke"]
env = run.get("environment", {})
print(f"rerun device: {(env.get('device') or {}).get('name')}, tests device: "
      f"{(env.get('tests_device') or {}).get('name')}, sandbox: {env.get('sandbox')}, "
      f"rerun {env.get('wall_s', 0):.1f} s; hidden accuracy "
      f"{run['metrics'].get('hidden_accuracy')}, hidden tests: "
      f"{[(t['name'], t['status']) for t in run.get('tests', [])]}")
EOF

say "2. grader batch: two students, --jobs 2, --rerun smoke, on $GPUS GPU(s)"
PATH="$(dirname "$PY"):$PATH"
for who in ABC123 XYZ789; do
  repo="$WORK/repos/$who"; mkdir -p "$repo"
  cp "$REF"/{download.py,split.py,make_shapes.py,train.py,README.md,requirements.txt} "$repo/"
  (cd "$repo" && $SHAPES >/dev/null && git init -q -b main && git add -A &&
   GIT_AUTHOR_DATE=2020-11-09T18:00:00+01:00 GIT_COMMITTER_DATE=2020-11-09T18:00:00+01:00 \
   git -c user.name=s -c user.email=s@x commit -qm hw4)
done
printf 'neptun,github\nABC123,%s\nXYZ789,%s\n' "$WORK/repos/ABC123" "$WORK/repos/XYZ789" > "$WORK/roster.csv"
T0=$(date +%s)
timeout 80 "$PY" -m grader batch hw4-transfer --roster "$WORK/roster.csv" --out "$WORK/out" \
  --jobs 2 --rerun smoke --no-progress > "$WORK/batch.log" 2>&1
RC=$?
echo "batch: $(( $(date +%s) - T0 )) s (exit $RC)"

say "3. summary"
"$PY" - "$WORK/out" "$RC" <<'EOF'
import json, pathlib, sys
bad = [] if sys.argv[2] == "0" else [f"the batch exited with {sys.argv[2]} (124: timed out)"]
results = sorted(pathlib.Path(sys.argv[1]).glob("*/result.json"))
if len(results) != 2:
    bad.append(f"{len(results)} of 2 students graded")
for path in results:
    checks = {c["id"]: c for c in json.load(open(path))["checks"]}
    rerun, tests = checks.get("rerun", {}), checks.get("tests", {})
    rf, tf = rerun.get("facts", {}), tests.get("facts", {})
    hidden = next((t for t in tf.get("tests", []) if t["visibility"] == "hidden"), {})
    print(f"{path.parent.name}: rerun {rerun.get('status')} on {(rf.get('device') or {}).get('name')} "
          f"waited {rf.get('waited_s')} s, {sum(r.get('wall_s', 0) for r in rf.get('runs', [])):.1f} s; "
          f"tests {tests.get('status')} {tests.get('points')}/{tests.get('max_points')} on "
          f"{(tf.get('device') or {}).get('name')} waited {tf.get('waited_s')} s, {tf.get('wall_s')} s; "
          f"hidden accuracy {tf.get('metrics', {}).get('hidden_accuracy')} ({hidden.get('status')}), "
          f"model evaluated on CUDA: {bool(tf.get('metrics', {}).get('evaluated_on_cuda'))}")
    if (rf.get("device") or {}).get("name", "cpu") == "cpu" or (tf.get("device") or {}).get("name", "cpu") == "cpu":
        bad.append(f"{path.parent.name} ran on the CPU")
    if not tf.get("metrics", {}).get("evaluated_on_cuda"):
        bad.append(f"{path.parent.name}: the hidden test's model did not run on CUDA")
    if rerun.get("status") != "pass" or hidden.get("status") != "passed":
        bad.append(f"{path.parent.name}: rerun {rerun.get('status')}, hidden test {hidden.get('status')}")
print("RESULT: " + ("OK" if not bad else "FAILED: " + "; ".join(bad)))
EOF
echo "total: $(( $(date +%s) - START )) s; work dir $WORK (batch log: $WORK/batch.log)"
