"""JAX baseline of the `plasticity` computations (docs/model.md §2-§4, §6).

The same models as the Rust engine, written the way a careful JAX user would: `jit`,
`lax.scan` over time steps, `vmap` over trajectories/sessions, `value_and_grad` over θ,
and the Taylor rule in a factorised form (never a pass per term).

Precision: call `configure(x64=True)` (or set `JAX_ENABLE_X64=1`) *before* building any
array for float64 runs; every builder takes a `dtype` and casts its data to it, so with
x64 enabled both f64 and f32 programs can be built in one process.

Definitions matched to the Rust engine (see bench/README.md, "Definitions"):

* Taylor coefficients are flat, index `a·9 + b·3 + c` over (x, y, w) and
  `a·27 + b·9 + c·3 + d` over (x, y, w, r), i.e. `theta.reshape(3, 3, 3[, 3])[a, b, c(, d)]`.
* Neural circuit: `y_t = sigmoid(W_t x_t)`, then `W_{t+1} = W_t + g(x_t, y_t, W_t)`
  (η = 1); the update after the last step is skipped (it cannot change the loss).
  Loss: SSE over trajectories × steps × recorded neurons, divided by that count.
* Behaviour circuit: `h = tanh(W x)`, `z = (5/n_hidden) Σ h`, per-presentation loss
  `softplus(z) − d z`; after an accepted presentation (d = 1, not the session's last),
  `W ← clip_B(W + (1/n_in) g(x, h, W, r))`, `r = R − E[R]` ("centred") or `R` ("raw") of
  the presentation's trial. Loss: mean over each session's real presentations, then
  mean over sessions. `plasticity loss` uses the dataset's recorded inputs and no bound.
* MLP rule: `g = tanh(v · leaky(U u + b) + c)`, `u = (x, y, w[, r])`, leaky slope 0.01,
  θ = [U (row-major hidden × inputs), b, v, c] (one hidden layer; deeper MLPs are
  supported with the same layer-by-layer layout).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import partial

import numpy as np

LEAKY_SLOPE = 0.01


def configure(x64: bool = True, threads: int | None = None) -> None:
    """Set process-wide JAX/XLA options; call before the first JAX computation.

    `threads=1` turns off XLA's multi-threaded Eigen kernels (single-core runs); the
    default lets XLA use every visible core. Pin cores with `taskset` from outside.
    """
    if threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:
            os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false").strip()
    import jax

    jax.config.update("jax_enable_x64", bool(x64))
    jax.config.update("jax_platforms", "cpu")


import jax  # noqa: E402  (configure() must be callable before, but importing is harmless)
import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402

# ---------------------------------------------------------------------------------------
# Data loading (docs/model.md §6)
# ---------------------------------------------------------------------------------------


def _metadata(archive) -> dict:
    if "metadata" not in archive:
        return {}
    value = archive["metadata"]
    return json.loads(str(value[()] if value.shape == () else value))


@dataclass
class NeuralData:
    inputs: np.ndarray  # [N, T, n_pre]
    initial_weights: np.ndarray  # [N, n_post, n_pre]
    recorded_activity: np.ndarray  # [N, T, n_rec]
    recorded_neurons: np.ndarray  # [n_rec] int
    metadata: dict

    @property
    def shape(self):
        n, t, n_pre = self.inputs.shape
        return dict(trajectories=n, steps=t, n_pre=n_pre, n_post=self.initial_weights.shape[1],
                    n_recorded=len(self.recorded_neurons))


def load_neural(path) -> NeuralData:
    with np.load(path, allow_pickle=False) as f:
        meta = _metadata(f)
        if meta.get("kind", "neural") != "neural":
            raise ValueError(f"{path}: kind is {meta.get('kind')!r}, expected 'neural'")
        return NeuralData(
            inputs=np.asarray(f["inputs"], np.float64),
            initial_weights=np.asarray(f["initial_weights"], np.float64),
            recorded_activity=np.asarray(f["recorded_activity"], np.float64),
            recorded_neurons=np.asarray(f["recorded_neurons"], np.int64),
            metadata=meta,
        )


@dataclass
class BehaviourData:
    inputs: np.ndarray  # [S, P, n_in], padding 0
    decisions: np.ndarray  # [S, P] float, padding 0
    reward: np.ndarray  # [S, P] r of each presentation's trial, padding 0
    valid: np.ndarray  # [S, P] 1.0 for real presentations
    n_presentations: np.ndarray  # [S]
    initial_weights: np.ndarray  # [S, n_hidden, n_in]
    metadata: dict

    @property
    def shape(self):
        s, p, n_in = self.inputs.shape
        return dict(sessions=s, max_presentations=p, n_in=n_in,
                    n_hidden=self.initial_weights.shape[1],
                    presentations=int(self.n_presentations.sum()))


def behaviour_from_arrays(inputs, decisions, trial_of_presentation, n_presentations, rewards,
                          expected_rewards, initial_weights, reward_signal="centred",
                          metadata=None) -> BehaviourData:
    """Per-presentation arrays from the docs/model.md §6 layout (padding never enters the loss)."""
    inputs = np.asarray(inputs, np.float64)
    s, p, _ = inputs.shape
    n_pres = np.asarray(n_presentations, np.int64)
    valid = (np.arange(p)[None, :] < n_pres[:, None])
    trial = np.where(valid, np.asarray(trial_of_presentation), 0).astype(np.int64)
    rewards = np.asarray(rewards, np.float64)
    expected = np.asarray(expected_rewards, np.float64)
    if reward_signal in ("centred", "centered"):
        signal = rewards - expected
    elif reward_signal == "raw":
        signal = rewards
    else:
        raise ValueError(f"unknown reward_signal {reward_signal!r}")
    r = np.take_along_axis(signal, trial, axis=1) * valid
    decisions = np.where(valid, np.asarray(decisions), 0).astype(np.float64)
    return BehaviourData(
        inputs=inputs * valid[:, :, None],
        decisions=decisions,
        reward=r,
        valid=valid.astype(np.float64),
        n_presentations=n_pres,
        initial_weights=np.asarray(initial_weights, np.float64),
        metadata=metadata or {},
    )


def load_behaviour(path) -> BehaviourData:
    with np.load(path, allow_pickle=False) as f:
        meta = _metadata(f)
        if meta.get("kind") != "behaviour":
            raise ValueError(f"{path}: kind is {meta.get('kind')!r}, expected 'behaviour'")
        return behaviour_from_arrays(
            f["inputs"], f["decisions"], f["trial_of_presentation"], f["n_presentations"],
            f["rewards"], f["expected_rewards"], f["initial_weights"],
            reward_signal=meta.get("reward_signal", "centred"), metadata=meta)


def load(path):
    """Either dataset kind, by its metadata."""
    with np.load(path, allow_pickle=False) as f:
        kind = _metadata(f).get("kind")
    return load_behaviour(path) if kind == "behaviour" else load_neural(path)


# ---------------------------------------------------------------------------------------
# Synthetic data of a given shape (for timings when the Rust CLI is not at hand)
# ---------------------------------------------------------------------------------------


def synthetic_neural(trajectories=1, steps=50, n_pre=100, n_post=1000, seed=0,
                     theta=None) -> NeuralData:
    """Inputs x ~ N(0, 0.1), W₀ ~ N(0, 1/n_pre); targets simulated with `theta` (Oja
    by default), all neurons recorded, no noise (docs/model.md §4.1 defaults)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, np.sqrt(0.1), (trajectories, steps, n_pre))
    w0 = rng.normal(0.0, np.sqrt(1.0 / n_pre), (trajectories, n_post, n_pre))
    data = NeuralData(x, w0, np.zeros((trajectories, steps, n_post)), np.arange(n_post),
                      {"kind": "neural", "synthetic": True})
    th = np.zeros(27) if theta is None else np.asarray(theta, np.float64)
    if theta is None:
        th[12], th[7] = 1.0, -1.0  # x*y, y^2*w
    sim = jax.jit(jax.vmap(partial(neural_simulate, taylor_update_fused), (None, 0, 0)))
    with jax.default_device(jax.devices("cpu")[0]):
        data.recorded_activity = np.asarray(sim(jnp.asarray(th), jnp.asarray(w0), jnp.asarray(x)))
    return data


def synthetic_behaviour(sessions=18, trials=240, n_in=2, n_hidden=10, seed=0,
                        accept_prob=0.5) -> BehaviourData:
    """Random odours, decisions (each presentation accepted with `accept_prob`) and
    rewards; same padded layout as a real dataset. Only for timing: the loss value is
    meaningless."""
    rng = np.random.default_rng(seed)
    per_session = []
    for _ in range(sessions):
        dec, tri = [], []
        for t in range(trials):
            while True:
                d = int(rng.random() < accept_prob)
                dec.append(d)
                tri.append(t)
                if d:
                    break
        per_session.append((np.array(dec), np.array(tri)))
    p_max = max(len(d) for d, _ in per_session)
    n_pres = np.array([len(d) for d, _ in per_session])
    decisions = -np.ones((sessions, p_max), np.int64)
    trial = -np.ones((sessions, p_max), np.int64)
    odours = rng.integers(0, 2, (sessions, p_max))
    patterns = np.zeros((2, n_in))
    patterns[0, : max(1, n_in // 2)] = 0.75
    patterns[1, max(1, n_in // 2):] = 0.75
    inputs = patterns[odours] + rng.normal(0, 0.015, (sessions, p_max, n_in))
    for k, (d, t) in enumerate(per_session):
        decisions[k, : len(d)] = d
        trial[k, : len(t)] = t
    rewards = (rng.random((sessions, trials)) < 0.5).astype(np.float64)
    expected = np.zeros_like(rewards)
    for t in range(1, trials):
        lo = max(0, t - 10)
        expected[:, t] = rewards[:, lo:t].sum(axis=1) / 10.0
    w0 = rng.normal(0, 0.01, (sessions, n_hidden, n_in))
    return behaviour_from_arrays(inputs, decisions, trial, n_pres, rewards, expected, w0,
                                 metadata={"kind": "behaviour", "synthetic": True})


# ---------------------------------------------------------------------------------------
# Rules: a layer update W ← W + η g_θ(x_j, y_i, W_ij, r)
# ---------------------------------------------------------------------------------------


def _powers(v):
    return jnp.stack([jnp.ones_like(v), v, v * v], axis=-1)


def _fold(theta, r):
    """[27] or [81] coefficients → t[a, b, c] = Σ_d θ_abcd r^d."""
    if theta.shape[-1] == 27:
        return theta.reshape(3, 3, 3)
    t4 = theta.reshape(3, 3, 3, 3)
    return t4[..., 0] + r * t4[..., 1] + (r * r) * t4[..., 2]


def taylor_update_fused(theta, w, x, y, r=0.0, eta=1.0):
    """Factorised Taylor update as one element-wise pass (what XLA fuses best on CPU):
    per row `B[i, a, c] = η Σ_b t_abc y_i^b` (an [n_post,3]×[3,9] product), then per
    synapse `C_c = B_0c + B_1c x_j + B_2c x_j²` and `g = C_0 + w (C_1 + w C_2)`."""
    t = _fold(theta, r)
    b = eta * jnp.einsum("ib,abc->iac", _powers(y), t)  # [n_post, 3(a), 3(c)]
    x2 = x * x

    def c(k):
        return b[:, 0, k, None] + b[:, 1, k, None] * x + b[:, 2, k, None] * x2

    return w + c(0) + w * (c(1) + w * c(2))


def taylor_update_matmul(theta, w, x, y, r=0.0, eta=1.0):
    """Factorised Taylor update with small matmuls:
    `C_c = Y_c Xᵀ` with `Y_c[i, a] = η Σ_b t_abc y_i^b` ([n_post,3]×[3,n_pre])."""
    t = _fold(theta, r)
    yc = eta * jnp.einsum("ib,abc->cia", _powers(y), t)  # [3(c), n_post, 3(a)]
    cc = jnp.einsum("cia,ja->cij", yc, _powers(x))  # [3, n_post, n_pre]
    return w + cc[0] + w * (cc[1] + w * cc[2])


def taylor_update_naive(theta, w, x, y, r=0.0, eta=1.0):
    """Σ over all terms, one pass per term (reference / straw man, for tests only)."""
    px, py, pw = _powers(x), _powers(y), _powers(w)
    t = _fold(theta, r)
    g = jnp.zeros_like(w)
    for a in range(3):
        for b_ in range(3):
            for c in range(3):
                g = g + t[a, b_, c] * px[None, :, a] * py[:, None, b_] * pw[..., c]
    return w + eta * g


def mlp_layers(theta, n_vars, hidden):
    """Split flat θ into [(W_l [out, in], b_l [out])] in the Rust layout."""
    widths = [n_vars, *hidden, 1]
    layers, off = [], 0
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        wl = theta[off: off + n_in * n_out].reshape(n_out, n_in)
        off += n_in * n_out
        bl = theta[off: off + n_out]
        off += n_out
        layers.append((wl, bl))
    return layers


def mlp_n_parameters(n_vars, hidden=(10,)):
    widths = [n_vars, *hidden, 1]
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))


def _leaky(z):
    return jnp.where(z >= 0, z, LEAKY_SLOPE * z)


def make_mlp_update(n_vars, hidden=(10,)):
    """MLP rule layer update. One hidden layer: `z_k = U_k0 x_j + U_k2 w_ij + (U_k1 y_i +
    U_k3 r + b_k)` with the row part computed once per row, units on a leading axis so
    the sum over units fuses into one pass; deeper MLPs run per synapse on the last axis."""
    hidden = tuple(hidden)

    def update(theta, w, x, y, r=0.0, eta=1.0):
        layers = mlp_layers(theta, n_vars, hidden)
        if len(layers) == 2:
            (u, b), (v, c) = layers
            row = b[:, None] + u[:, 1, None] * y[None, :]  # [H, n_post]
            if n_vars == 4:
                row = row + u[:, 3, None] * r
            z = (u[:, 0, None, None] * x[None, None, :] + row[:, :, None]
                 + u[:, 2, None, None] * w[None])  # [H, n_post, n_pre]
            out = c[0] + jnp.einsum("k,kij->ij", v[0], _leaky(z))
            return w + eta * jnp.tanh(out)
        feats = [jnp.broadcast_to(x[None, :], w.shape), jnp.broadcast_to(y[:, None], w.shape), w]
        if n_vars == 4:
            feats.append(jnp.full_like(w, r))
        a = jnp.stack(feats, axis=-1)
        for l, (wl, bl) in enumerate(layers):
            a = a @ wl.T + bl
            a = jnp.tanh(a) if l + 1 == len(layers) else _leaky(a)
        return w + eta * a[..., 0]

    return update


def rule_update(family, variables="xyw", hidden=(10,), taylor_form="fused"):
    n_vars = 3 if variables == "xyw" else 4
    if family == "taylor":
        return {"fused": taylor_update_fused, "matmul": taylor_update_matmul,
                "naive": taylor_update_naive}[taylor_form]
    if family == "mlp":
        return make_mlp_update(n_vars, hidden)
    raise ValueError(family)


def n_parameters(family, variables="xyw", hidden=(10,)):
    n_vars = 3 if variables == "xyw" else 4
    return 3 ** n_vars if family == "taylor" else mlp_n_parameters(n_vars, hidden)


# ---------------------------------------------------------------------------------------
# Neural-activity circuit (docs/model.md §3.1, §4.1)
# ---------------------------------------------------------------------------------------


def neural_simulate(update, theta, w0, xs):
    """Activity y_t of every neuron, [T, n_post], of one trajectory."""
    def step(w, x):
        y = jax.nn.sigmoid(w @ x)
        return update(theta, w, x, y), y

    _, ys = lax.scan(step, w0, xs)
    return ys


def neural_trajectory_sse(update, theta, w0, xs, targets, neurons, unroll=1):
    """SSE over steps and recorded neurons of one trajectory. The update after the last
    step is skipped (as in Rust: it cannot change any recorded activity)."""
    def sse_of(y, target):
        return jnp.sum((y[neurons] - target) ** 2)

    def step(w, inp):
        x, target = inp
        y = jax.nn.sigmoid(w @ x)
        return update(theta, w, x, y), sse_of(y, target)

    w_last, sses = lax.scan(step, w0, (xs[:-1], targets[:-1]), unroll=unroll)
    y_last = jax.nn.sigmoid(w_last @ xs[-1])
    return jnp.sum(sses) + sse_of(y_last, targets[-1])


def neural_loss_fn(update, dtype, checkpoint_every: int | None = None, unroll=1):
    """loss(θ, w0[N], xs[N], targets[N], neurons): the NeuralObjective MSE over a batch of
    trajectories (vmap). `checkpoint_every=K` rematerialises the scan in segments of K
    steps (JAX's analogue of the Rust checkpointed adjoint: memory ~ (T/K + K) weights)."""
    def one(theta, w0, xs, targets, neurons):
        if checkpoint_every:
            return _neural_sse_checkpointed(update, theta, w0, xs, targets, neurons,
                                            checkpoint_every)
        return neural_trajectory_sse(update, theta, w0, xs, targets, neurons, unroll)

    def loss(theta, w0, xs, targets, neurons):
        theta = theta.astype(dtype)
        sse = jax.vmap(one, (None, 0, 0, 0, None))(theta, w0, xs, targets, neurons)
        return jnp.sum(sse) / (xs.shape[0] * xs.shape[1] * neurons.shape[0])

    return loss


def _neural_sse_checkpointed(update, theta, w0, xs, targets, neurons, k):
    t = xs.shape[0]
    n_seg = -(-t // k)
    pad = n_seg * k - t
    # steps past T are masked: no update, no loss
    mask = jnp.concatenate([jnp.ones(t - 1, xs.dtype), jnp.zeros(pad + 1, xs.dtype)])
    xs_p = jnp.concatenate([xs, jnp.zeros((pad,) + xs.shape[1:], xs.dtype)])
    tg_p = jnp.concatenate([targets, jnp.zeros((pad,) + targets.shape[1:], targets.dtype)])
    valid = jnp.concatenate([jnp.ones(t, xs.dtype), jnp.zeros(pad, xs.dtype)])

    def step(w, inp):
        x, target, m, v = inp
        y = jax.nn.sigmoid(w @ x)
        sse = v * jnp.sum((y[neurons] - target) ** 2)
        w_new = update(theta, w, x, y)
        return jnp.where(m > 0, w_new, w), sse

    @jax.checkpoint
    def segment(w, seg):
        w, sses = lax.scan(step, w, seg)
        return w, jnp.sum(sses)

    segs = tuple(a.reshape((n_seg, k) + a.shape[1:]) for a in (xs_p, tg_p, mask, valid))
    _, sses = lax.scan(segment, w0, segs)
    return jnp.sum(sses)


def neural_arrays(data: NeuralData, dtype, items=None):
    sl = slice(None) if items is None else items
    return (jnp.asarray(data.initial_weights[sl], dtype), jnp.asarray(data.inputs[sl], dtype),
            jnp.asarray(data.recorded_activity[sl], dtype),
            jnp.asarray(data.recorded_neurons, jnp.int32))


# ---------------------------------------------------------------------------------------
# Behaviour circuit (docs/model.md §3.2, §4.2)
# ---------------------------------------------------------------------------------------


def behaviour_session_loss(update, theta, w0, xs, decisions, rewards, valid, n_pres,
                           weight_bound=None, unroll=1):
    """Mean cross-entropy of one (padded) session."""
    n_in = w0.shape[1]
    eta = 1.0 / n_in
    readout = 5.0 / w0.shape[0]
    idx = jnp.arange(xs.shape[0])

    def step(w, inp):
        x, d, r, v, p = inp
        h = jnp.tanh(w @ x)
        z = readout * jnp.sum(h)
        ell = jax.nn.softplus(z) - d * z
        w_new = update(theta, w, x, h, r, eta)
        if weight_bound is not None:
            w_new = jnp.clip(w_new, -weight_bound, weight_bound)
        plastic = (d > 0) & (v > 0) & (p + 1 < n_pres)
        return jnp.where(plastic, w_new, w), v * ell

    _, ells = lax.scan(step, w0, (xs, decisions, rewards, valid, idx), unroll=unroll)
    return jnp.sum(ells) / n_pres


def behaviour_loss_fn(update, dtype, weight_bound=None, unroll=1, over="vmap"):
    """loss(θ, arrays): the BehaviourObjective cross-entropy over all sessions
    (`over="vmap"`: one scan over the longest session, sessions batched; `"map"`: a
    sequential loop over sessions)."""
    def one(theta, w0, xs, d, r, v, n):
        return behaviour_session_loss(update, theta, w0, xs, d, r, v, n.astype(dtype),
                                      weight_bound, unroll)

    def loss(theta, w0, xs, d, r, v, n):
        theta = theta.astype(dtype)
        if over == "vmap":
            per = jax.vmap(one, (None, 0, 0, 0, 0, 0, 0))(theta, w0, xs, d, r, v, n)
        else:
            per = lax.map(lambda a: one(theta, *a), (w0, xs, d, r, v, n))
        return jnp.mean(per)

    return loss


def behaviour_arrays(data: BehaviourData, dtype):
    return (jnp.asarray(data.initial_weights, dtype), jnp.asarray(data.inputs, dtype),
            jnp.asarray(data.decisions, dtype), jnp.asarray(data.reward, dtype),
            jnp.asarray(data.valid, dtype), jnp.asarray(data.n_presentations, jnp.int32))


# ---------------------------------------------------------------------------------------
# Term names and expressions (docs/model.md §2.1, §6) — enough for the cross-check
# ---------------------------------------------------------------------------------------


def term_names(variables="xyw"):
    symbols = "xyw" if variables == "xyw" else "xywr"
    names = []
    for k in range(3 ** len(symbols)):
        exps, rest = [], k
        for _ in symbols:
            exps.append(rest % 3)
            rest //= 3
        exps = exps[::-1]
        parts = [s if e == 1 else f"{s}^{e}" for s, e in zip(symbols, exps) if e]
        names.append("*".join(parts) if parts else "1")
    return names


def theta_from_terms(terms: dict, variables="xyw"):
    names = term_names(variables)
    theta = np.zeros(len(names))
    for name, value in terms.items():
        theta[names.index(name)] += value
    return theta


def theta_to_expression(theta, variables="xyw"):
    """An expression `plasticity --theta` parses back to exactly `theta` (repr floats)."""
    out = []
    for name, value in zip(term_names(variables), np.asarray(theta, np.float64)):
        if value == 0.0:
            continue
        sign = "-" if value < 0 else "+"
        mag = repr(abs(float(value)))
        factor = mag if name == "1" else f"{mag}*{name}"
        out.append(f"{sign} {factor}")
    if not out:
        return "0*x"
    text = " ".join(out)
    return text[2:] if text.startswith("+ ") else text
