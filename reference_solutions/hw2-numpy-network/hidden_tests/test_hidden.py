"""Hidden tests of small homework 2: the rules on inputs the students never saw, against
the instructor's reference implementation."""

import numpy as np
import pytest


def reference_momentum(w, g, v, lr, mu):
    v = mu * v - lr * g
    return w + v, v


@pytest.mark.points(1)
def test_momentum_over_several_steps(nb):
    """Five momentum steps on a random matrix follow the reference exactly."""
    rng = np.random.default_rng(2018)
    w, v = rng.normal(size=(4, 3)), np.zeros((4, 3))
    want_w, want_v = w.copy(), v.copy()
    step = nb.ref("momentum_update")
    for _ in range(5):
        g = rng.normal(size=(4, 3))
        w, v = step(w, g, v, 0.05, 0.8)
        want_w, want_v = reference_momentum(want_w, g, want_v, 0.05, 0.8)
    np.testing.assert_allclose(w, want_w, rtol=1e-6)
    np.testing.assert_allclose(v, want_v, rtol=1e-6)


@pytest.mark.points(1)
def test_regularisation_gradients_on_other_inputs(nb):
    """L1 and L2 gradients on a random matrix with zeros in it."""
    rng = np.random.default_rng(10)
    w = rng.normal(size=(5, 4))
    w[0, :] = 0.0
    np.testing.assert_allclose(nb.ref("l1_gradient")(w, 0.3), 0.3 * np.sign(w))
    np.testing.assert_allclose(nb.ref("l2_gradient")(w, 0.3), 0.6 * w)


@pytest.mark.points(1)
def test_minibatches_shuffle_and_cover(nb):
    """48 samples: three full batches of 16, in a shuffled order."""
    x = np.arange(48, dtype=float).reshape(48, 1)
    y = np.arange(48)
    batches = nb.ref("minibatches")(x, y, 16, 7)
    assert [len(b[1]) for b in batches] == [16, 16, 16]
    order = np.concatenate([b[1] for b in batches])
    assert sorted(order.tolist()) == list(range(48))
    assert order.tolist() != list(range(48)), "the samples are not shuffled"
