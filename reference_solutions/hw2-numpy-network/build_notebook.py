"""Build the reference notebook of small homework 2 and run it to store its outputs.

python build_notebook.py        # writes hw2_numpy_network.ipynb (executed)
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent

INTRO = """# Small homework 2: a numpy network with momentum, L1/L2 and mini-batches

The two-layer numpy network from class (tanh hidden layer, linear output, mean squared
error), extended with the four parts the homework asks for. Each part is between
`# HF2 start <name>` and `# HF2 end <name>` comments, with a comment on what and why."""

SETUP = """import numpy as np

rng = np.random.default_rng(0)


def init_network(n_in, n_hidden, n_out, seed=0):
    \"\"\"Small random weights and zero biases for a two-layer network.\"\"\"
    r = np.random.default_rng(seed)
    return {
        "W1": r.normal(0, 0.5, (n_in, n_hidden)), "b1": np.zeros(n_hidden),
        "W2": r.normal(0, 0.5, (n_hidden, n_out)), "b2": np.zeros(n_out),
    }


def forward(net, x):
    \"\"\"Hidden activations and the output of the network.\"\"\"
    h = np.tanh(x @ net["W1"] + net["b1"])
    return h, h @ net["W2"] + net["b2"]


def gradients(net, x, y):
    \"\"\"The mean squared error and its gradients (backpropagation).\"\"\"
    h, out = forward(net, x)
    error = out - y
    loss = float(np.mean(error ** 2))
    d_out = 2 * error / len(x)
    d_h = (d_out @ net["W2"].T) * (1 - h ** 2)
    return loss, {
        "W2": h.T @ d_out, "b2": d_out.sum(axis=0),
        "W1": x.T @ d_h, "b1": d_h.sum(axis=0),
    }"""

MOMENTUM = """# HF2 start momentum
# Momentum keeps a running velocity of past updates, so steps along a consistent direction
# grow and oscillating directions cancel out: faster, smoother convergence than plain SGD.
def momentum_update(weights, gradient, velocity, learning_rate, momentum):
    velocity = momentum * velocity - learning_rate * gradient
    return weights + velocity, velocity
# HF2 end momentum"""

L1 = """# HF2 start l1reg
# L1 regularisation adds lam * sum(|w|) to the loss; its gradient lam * sign(w) pushes small
# weights to exactly zero (sparse weights, a simpler model).
def l1_gradient(weights, lam):
    return lam * np.sign(weights)
# HF2 end l1reg"""

L2 = """# HF2 start l2reg
# L2 regularisation adds lam * sum(w ** 2) to the loss; its gradient 2 * lam * w shrinks
# every weight in proportion to its size (weight decay against overfitting).
def l2_gradient(weights, lam):
    return 2 * lam * weights
# HF2 end l2reg"""

MINIBATCH = """# HF2 start mini-batch
# Mini-batches of 16: each epoch visits every sample once in a new random order, 16 at a
# time, so updates are frequent and noisy enough to escape flat regions, yet cheap.
def minibatches(x, y, batch_size=16, seed=0):
    order = np.random.default_rng(seed).permutation(len(x))
    return [(x[order[i:i + batch_size]], y[order[i:i + batch_size]])
            for i in range(0, len(x), batch_size)]
# HF2 end mini-batch"""

TRAIN = """def train_epochs(x, y, epochs, lr=0.05, mu=0.9, l1=1e-5, l2=1e-4, seed=0):
    \"\"\"Train a fresh network for `epochs` epochs; the loss on all data after each.\"\"\"
    net = init_network(x.shape[1], 8, y.shape[1], seed)
    velocity = {k: np.zeros_like(v) for k, v in net.items()}
    losses = []
    for epoch in range(epochs):
        for xb, yb in minibatches(x, y, 16, seed + epoch):
            _, grads = gradients(net, xb, yb)
            for k in net:
                g = grads[k]
                if k.startswith("W"):  # regularise weights, not biases
                    g = g + l1_gradient(net[k], l1) + l2_gradient(net[k], l2)
                net[k], velocity[k] = momentum_update(net[k], g, velocity[k], lr, mu)
        losses.append(gradients(net, x, y)[0])
    return losses"""

RUN = """x = rng.normal(size=(256, 3))
y = np.sin(x @ np.array([[1.0], [-2.0], [0.5]]))
losses = train_epochs(x, y, 20)
for epoch, loss in enumerate(losses, 1):
    print(f"Epoch {epoch}/20 - loss: {loss:.4f}")"""


def main() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(INTRO)]
    nb.cells += [nbformat.v4.new_code_cell(src) for src in (SETUP, MOMENTUM, L1, L2, MINIBATCH)]
    nb.cells.append(nbformat.v4.new_markdown_cell("## Training with all four"))
    nb.cells += [nbformat.v4.new_code_cell(TRAIN), nbformat.v4.new_code_cell(RUN)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}  # fmt: skip
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    nbformat.write(nb, HERE / "hw2_numpy_network.ipynb")


if __name__ == "__main__":
    main()
