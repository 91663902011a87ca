#!/usr/bin/env python3
"""Writes and executes the example notebooks (examples/*.ipynb) from the cells below,
so that the committed notebooks are reproducible: run this after changing a cell or the
package, in an environment with `plasticity[test]` installed.

    python scripts/python/build-notebooks.py            # write and execute all
    python scripts/python/build-notebooks.py --check    # execute the committed ones
"""

import argparse
import pathlib
import sys

import nbformat
from nbclient import NotebookClient

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"

SETUP = """\
import matplotlib
matplotlib.rcParams.update({"figure.dpi": 72, "figure.figsize": (7, 3.2)})
import matplotlib.pyplot as plt
import numpy as np
import plasticity as pl
print("plasticity", pl.__version__)"""

OJA = [
    ("markdown", """\
# Recovering Oja's rule from neural activity

A layer of neurons `y_t = sigmoid(W_t x_t)` learns with Oja's rule
`Δw = x·y − y²·w`. We record its activity, then fit a 27-term Taylor rule
`Δw = Σ θ_αβγ x^α y^β w^γ` (exponents 0–2) by gradient descent through every trajectory,
and watch the coefficients converge to the generating ones."""),
    ("code", SETUP),
    ("markdown", "Simulate the default problem of `plasticity oja` (20→100 neurons, 10 trajectories of 50 steps):"),
    ("code", """\
data = pl.simulate_oja(n_pre=20, n_post=100, steps=50, trajectories=10, seed=0)
data"""),
    ("code", """\
result = pl.fit(data, epochs=2000, seed=0)   # L-BFGS over all 27 terms
result"""),
    ("markdown", "The two Oja terms and the largest of the rest (`generating` is the rule that made the data):"),
    ("code", """\
table = result.to_pandas()
table.reindex(table["value"].abs().sort_values(ascending=False).index).head(6).round(4)"""),
    ("code", """\
print({k: f"{result.metrics[k]:.6g}" for k in ("r2_weights", "r2_activity", "final_loss", "loss_at_generating_rule")})"""),
    ("markdown", "Coefficient trajectories over the fit: `x*y` → 1, `y²·w` → −1, every other term stays near 0."),
    ("code", """\
history = result.history_to_pandas()
fig, (ax, ax_loss) = plt.subplots(1, 2)
for term in history.columns[1:]:
    highlighted = term in ("x*y", "y^2*w")
    ax.plot(history.index, history[term], lw=2 if highlighted else 0.6,
            color=None if highlighted else "0.7", label=term if highlighted else None)
ax.set_xscale("log"); ax.set_xlabel("L-BFGS iteration"); ax.set_ylabel("coefficient"); ax.legend()
ax_loss.loglog(history.index, history["loss"]); ax_loss.set_xlabel("L-BFGS iteration"); ax_loss.set_ylabel("MSE")
fig.tight_layout()"""),
    ("markdown", """\
## Noise and partial recordings

The same fit when the recording has measurement noise (σ = 0.05) and only half of
the postsynaptic neurons are recorded:"""),
    ("code", """\
noisy = pl.simulate_oja(n_pre=20, n_post=100, trajectories=10, noise_std=0.05, recording_fraction=0.5, seed=1)
noisy_fit = pl.fit(noisy, epochs=2000, seed=1)
print(f"R² of weights on fresh trajectories: {noisy_fit.metrics['r2_weights']:.4f}")
noisy_table = noisy_fit.to_pandas()
noisy_table.reindex(noisy_table["value"].abs().sort_values(ascending=False).index).head(6).round(3)"""),
    ("markdown", """\
With noise, single coefficients trade off against correlated terms (here `y²·w`
against other `w` and `y²` terms), while the fitted rule still reproduces the weight
trajectories of fresh data (R² above). Restricting the fit to fewer terms
(`trainable="degree:2"`, or the two Oja terms) or adding an L1 penalty (`l1=...`)
makes the coefficients themselves identifiable."""),
    ("markdown", """\
The loss gradient is available directly, e.g. to compare with another implementation
(`plasticity loss` prints the same numbers):"""),
    ("code", """\
loss, gradient = pl.loss_and_gradient(noisy, "x*y - y^2*w")
print(f"loss at Oja's rule {loss:.6g} (the noise variance is {0.05**2:.6g})")
print(f"largest |∂L/∂θ| at Oja's rule: {np.abs(gradient).max():.3g} ({pl.term_names()[np.abs(gradient).argmax()]})")"""),
]

FLY = [
    ("markdown", """\
# Fitting a fly's plasticity rule from its choices

A fly chooses between two odours; an accepted odour is rewarded with a block-wise
probability. The model: odour → plastic `tanh` layer → `P(accept)`, with
`Δw = θ₁ + θ_x x + θ_r r + θ_xr x·r (+ θ_w w)` and `r = R − E[R]`. The `w` term is the
paper's "active forgetting" (weight decay, θ_w < 0); on these converted files it comes out
positive in every fly (see the README's section on the flies for why). The recording here is `Fly1.mat`
(Rajagopalan et al., PNAS 2023, doi:10.5281/zenodo.7449214, as converted in
`irmakerkol/Model-Based-Inference-of-Synaptic-Plasticity-Rules`, MIT); point `path`
at any `.mat` or `.csv` recording."""),
    ("code", SETUP),
    ("code", """\
path = "../crates/plasticity/tests/data/flies/Fly1.mat"
fly = pl.load_fly(path)
fly"""),
    ("code", """\
accepted_a = np.cumsum((fly.decisions == 1) & (fly.odours == 0))
accepted_b = np.cumsum((fly.decisions == 1) & (fly.odours == 1))
fig, ax = plt.subplots()
ax.plot(accepted_a, accepted_b, lw=1)
ax.set_xlabel("cumulative choices of odour A"); ax.set_ylabel("cumulative choices of odour B")
ax.set_title(f"{fly.name}: {fly.n_trials} trials, {int(fly.rewards.sum())} rewarded");"""),
    ("markdown", "Fit both models (Adam, 250 epochs, L1 = 1e-2, from zero), as `plasticity flies` does per draw:"),
    ("code", """\
models = {"x·r": "1,x,r,x*r", "x·r + w": "1,x,r,x*r,w"}
fits = {name: pl.fit(fly, trainable=terms, init="zeros", seed=0) for name, terms in models.items()}
for name, fit in fits.items():
    print(f"{name:8s} loss {fit.final_loss:.4f}  deviance explained {fit.metrics['percent_deviance']:.1f} %")"""),
    ("code", """\
import pandas as pd
pd.DataFrame({name: fit.to_pandas()["value"] for name, fit in fits.items()}).loc[["1", "x", "r", "x*r", "w"]].round(4)"""),
    ("code", """\
fig, axes = plt.subplots(1, 2, sharey=True)
for ax, (name, fit) in zip(axes, fits.items()):
    history = fit.history_to_pandas()
    for term in ["1", "x", "r", "x*r", "w"]:
        if history[term].abs().max() > 0:
            ax.plot(history.index, history[term], label=term)
    ax.set_title(name); ax.set_xlabel("epoch")
axes[0].set_ylabel("coefficient"); axes[1].legend()
fig.tight_layout()"""),
    ("markdown", """\
A single fit of one fly is noisy (the sensory noise and `W₀` are unknown and drawn
from the seed); `plasticity run experiments/flies.toml` fits all 18 flies over several
draws with held-out prediction and compares the models across flies."""),
]


def build(cells):
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [
        nbformat.v4.new_markdown_cell(text) if kind == "markdown" else nbformat.v4.new_code_cell(text)
        for kind, text in cells
    ]
    return notebook


def execute(notebook, path):
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return notebook


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="execute the committed notebooks without writing")
    args = parser.parse_args()
    for name, cells in (("oja.ipynb", OJA), ("fly.ipynb", FLY)):
        path = EXAMPLES / name
        if args.check:
            execute(nbformat.read(path, as_version=4), path)
            print(f"{path}: executed without error")
            continue
        notebook = execute(build(cells), path)
        for cell in notebook.cells:
            cell.metadata.pop("execution", None)
        nbformat.write(notebook, path)
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    sys.exit(main())
