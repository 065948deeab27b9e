"""Public tests of small homework 2 (they ship with the grader: run them with
`grader check hw2-numpy-network`). Each rule is compared with a reference implementation
on inputs chosen here; the hidden tests use other inputs."""

import json

import numpy as np
import pytest

MARKERS = ("momentum", "l1reg", "l2reg", "mini-batch")


def reference_momentum(w, g, v, lr, mu):
    v = mu * v - lr * g
    return w + v, v


@pytest.mark.points(1)
def test_marked_blocks_exist(nb, submission):
    """Each part sits between '# HF2 start <name>' and '# HF2 end <name>' comments."""
    notebook = json.loads(nb.read(submission["notebook"]))
    code = "\n".join(
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in notebook["cells"]
        if c.get("cell_type") == "code"
    )
    lines = [line.strip().lower() for line in code.splitlines()]
    missing = []
    for name in MARKERS:
        starts = [i for i, s in enumerate(lines) if s.startswith(f"# hf2 start {name}")]
        ends = [i for i, s in enumerate(lines) if s.startswith(f"# hf2 end {name}")]
        if not starts or not ends or ends[-1] <= starts[0] + 1:
            missing.append(name)
    assert not missing, "no '# HF2 start/end' block for: " + ", ".join(missing)


@pytest.mark.points(1)
def test_momentum_update(nb):
    """momentum_update gives the reference's weights and velocity."""
    w, g, v = np.array([1.0, -2.0, 0.5]), np.array([0.2, 0.4, -1.0]), np.array([0.1, 0.0, 0.3])
    got_w, got_v = nb.ref("momentum_update")(w, g, v, 0.1, 0.9)
    want_w, want_v = reference_momentum(w, g, v, 0.1, 0.9)
    np.testing.assert_allclose(got_v, want_v, rtol=1e-6, err_msg="velocity")
    np.testing.assert_allclose(got_w, want_w, rtol=1e-6, err_msg="weights")


@pytest.mark.points(0.5)
def test_l1_gradient(nb):
    """l1_gradient(w, lam) == lam * sign(w)."""
    w = np.array([[1.5, -0.2], [0.0, 3.0]])
    np.testing.assert_allclose(nb.ref("l1_gradient")(w, 0.01), 0.01 * np.sign(w))


@pytest.mark.points(0.5)
def test_l2_gradient(nb):
    """l2_gradient(w, lam) == 2 * lam * w (the gradient of lam * sum(w ** 2))."""
    w = np.array([[1.5, -0.2], [0.0, 3.0]])
    np.testing.assert_allclose(nb.ref("l2_gradient")(w, 0.01), 2 * 0.01 * w)


@pytest.mark.points(1)
def test_minibatches_of_16(nb):
    """50 samples give batches of 16, 16, 16 and 2, each sample exactly once, x and y
    kept together."""
    x = np.arange(100, dtype=float).reshape(50, 2)
    y = np.arange(50)
    batches = nb.ref("minibatches")(x, y, 16, 0)
    assert [len(b[1]) for b in batches] == [16, 16, 16, 2]
    seen = np.concatenate([b[1] for b in batches])
    assert sorted(seen.tolist()) == list(range(50)), "every sample exactly once"
    for xb, yb in batches:
        np.testing.assert_array_equal(xb[:, 0], 2 * yb, err_msg="x and y rows stay together")


@pytest.mark.points(1)
def test_training_step_uses_all_four(nb):
    """train_epochs(x, y, epochs) trains a fresh network (mini-batches, L1 + L2, momentum)
    and returns the loss after each epoch; after 20 epochs on a small, smooth problem the
    loss is far below that of predicting zero."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(128, 3))
    y = np.tanh(x @ np.array([[0.5], [-0.3], [0.2]]))
    losses = nb.ref("train_epochs")(x, y, 20)
    assert len(losses) == 20
    baseline = float(np.mean(y**2))
    assert losses[-1] < 0.5 * baseline, f"final loss {losses[-1]:.4f}, predicting 0: {baseline:.4f}"
