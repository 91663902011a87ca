"""JAX side of benchmark (e): the per-fly fits of `plasticity flies`, core only.

The counterpart of

    plasticity flies DATA --out DIR --no-q-learning --no-intervals --population-folds 0

i.e. for each fly × model {"1,x,r,x*r", "1,x,r,x*r,w"} × draw (seed = draw) two behaviour
fits (all trials; the first round(0.75·trials) trials, then the held-out rest predicted),
each Adam (lr 1e-3, β = (0.9, 0.999), ε = 1e-8) for 250 steps on the one session (batch =
the session), loss = mean cross-entropy over the session's presentations + 1e-2 · L1 of
the trainable Taylor coefficients (the others stay exactly 0), weights clipped to ±10
after every plastic update. Model: `plasticity_jax.behaviour_session_loss` with the
81-term Taylor rule over (x, y, w, r), r = R − E[R], E[R] = mean of the previous 10
rewards (zeros before the first), inputs = 0.75 on the odour's input + N(0, 0.015²)
noise, W₀ ~ N(0, 0.01²) (10 hidden × 2 inputs), both re-drawn per draw (as in Rust, a
fly fitted alone is session 0, so a draw's W₀ and noise are the same for every fly; the
random numbers themselves differ from Rust's ChaCha8 streams).

Batching: all fits (flies × draws × models × {all, first}) are padded to the longest
session and `vmap`ped; the 250 Adam steps are a `lax.scan` inside the same `jit`, so the
whole experiment is one compiled program, run as one call per core on 1/cores of the fits
(Python threads; XLA:CPU runs one such call on about one core) (the first-trials fits are the full session with
the presentations after the cut masked out and `n_pres` set to the cut). The fitted and
null (θ = 0) losses and the held-out loss are computed in the same call.

Usage: flies_jax.py --data DIR --out JSON [--draws 5] [--epochs 250] [--chunk N]
       [--parallel P] [--form fused|elementwise]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import sys
import time
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plasticity_jax as pj  # noqa: E402

pj.configure(x64=True, threads=int(os.environ.get("BENCH_JAX_THREADS", "0")) or None)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402

MODELS = ["1,x,r,x*r", "1,x,r,x*r,w"]
ODOUR_LEVEL = 0.75
NOISE_STD = 0.015
N_HIDDEN = 10
W0_STD = 0.01
ER_WINDOW = 10
TRAINING_FRACTION = 0.75
LEARNING_RATE = 1e-3
L1 = 1e-2
WEIGHT_BOUND = 10.0

# ---------------------------------------------------------------------------------------
# A minimal MATLAB v5 reader (numeric matrices, compressed or not; no scipy here)
# ---------------------------------------------------------------------------------------

_MI = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8", 12: "i8",
       13: "u8"}


def _elements(buf, end):
    pos = 0
    out = []
    while pos + 8 <= len(buf):
        first = int.from_bytes(buf[pos:pos + 4], end)
        if first >> 16:  # small data element: 4-byte tag, data in the next 4 bytes
            typ, n = first & 0xFFFF, first >> 16
            out.append((typ, buf[pos + 4:pos + 4 + n]))
            pos += 8
            continue
        n = int.from_bytes(buf[pos + 4:pos + 8], end)
        data = buf[pos + 8:pos + 8 + n]
        pos += 8 + n
        if first != 15:  # compressed elements are not padded
            pos += (-n) % 8
        out.append((first, data))
    return out


def load_mat(path):
    """{name: ndarray} of the numeric matrices of a MATLAB v5 file."""
    with open(path, "rb") as f:
        raw = f.read()
    end = "little" if raw[126:128] == b"IM" else "big"
    bo = "<" if end == "little" else ">"
    result = {}
    todo = _elements(raw[128:], end)
    while todo:
        typ, data = todo.pop(0)
        if typ == 15:
            todo[:0] = _elements(zlib.decompress(data), end)
            continue
        if typ != 14:
            continue
        sub = _elements(data, end)
        dims = np.frombuffer(sub[1][1], bo + _MI[sub[1][0]]).astype(int)
        name = sub[2][1].decode("ascii")
        values = np.frombuffer(sub[3][1], bo + _MI[sub[3][0]]).astype(np.float64)
        result[name] = values.reshape(tuple(dims), order="F")
    return result


# ---------------------------------------------------------------------------------------
# Flies → padded per-fit arrays
# ---------------------------------------------------------------------------------------


def load_fly(path):
    m = load_mat(path)
    odours = np.argmax(m["X"], axis=1)
    decisions = m["Y"].reshape(-1).astype(np.float64)
    rewards = m["R"].reshape(-1).astype(np.float64)
    trial = np.concatenate([[0], np.cumsum(decisions)[:-1]]).astype(np.int64)
    if int(decisions.sum()) != len(rewards):
        raise ValueError(f"{path}: sum(Y) = {decisions.sum()} but {len(rewards)} rewards")
    expected = np.array([rewards[max(0, t - ER_WINDOW):t].sum() / ER_WINDOW
                         for t in range(len(rewards))])
    name = os.path.splitext(os.path.basename(path))[0]
    return dict(name=name, odours=odours, decisions=decisions, trial=trial,
                signal=rewards - expected, n_trials=len(rewards))


def _fly_key(path):
    m = re.search(r"(\d+)", os.path.basename(path))
    return (int(m.group(1)) if m else 0, path)


def build_fits(flies, draws, models):
    """Arrays over the fits, axis order (fly, model, draw, subset∈{all, first})."""
    names = pj.term_names("xywr")
    masks = []
    for model in models:
        mask = np.zeros(len(names))
        for term in model.split(","):
            mask[names.index(term.strip())] = 1.0
        masks.append(mask)
    p_max = max(len(f["decisions"]) for f in flies)
    noise = {}
    w0s = {}
    for draw in range(draws):
        rng = np.random.default_rng([draw, 1])
        w0s[draw] = rng.normal(0.0, W0_STD, (N_HIDDEN, 2))
        noise[draw] = rng.normal(0.0, NOISE_STD, (p_max, 2))
    cols = {k: [] for k in ("mask", "w0", "xs", "d", "r", "v", "n_fit", "n_full")}
    index = []
    for fi, fly in enumerate(flies):
        n_full = len(fly["decisions"])
        trials = fly["n_trials"]
        keep = int(np.clip(np.floor(TRAINING_FRACTION * trials + 0.5), 1, max(trials - 1, 1)))
        n_first = int(np.sum(fly["trial"] < keep))
        base = np.zeros((p_max, 2))
        base[np.arange(n_full), fly["odours"]] = ODOUR_LEVEL
        valid = (np.arange(p_max) < n_full).astype(np.float64)
        d = np.zeros(p_max)
        d[:n_full] = fly["decisions"]
        r = np.zeros(p_max)
        r[:n_full] = fly["signal"][fly["trial"]]
        for mi, _ in enumerate(models):
            for draw in range(draws):
                xs = (base + noise[draw]) * valid[:, None]
                for subset, n_fit in (("all", n_full), ("first", n_first)):
                    cols["mask"].append(masks[mi])
                    cols["w0"].append(w0s[draw])
                    cols["xs"].append(xs)
                    cols["d"].append(d)
                    cols["r"].append(r)
                    cols["v"].append(valid)
                    cols["n_fit"].append(n_fit)
                    cols["n_full"].append(n_full)
                    index.append((fi, mi, draw, subset))
    arrays = {k: np.asarray(v) for k, v in cols.items()}
    return arrays, index, p_max


# ---------------------------------------------------------------------------------------
# The fits: one jitted call
# ---------------------------------------------------------------------------------------


def taylor_update_elementwise(theta, w, x, y, r=0.0, eta=1.0):
    """`pj.taylor_update_fused` (the same 81-term Taylor rule over (x, y, w, r), same
    factorisation) with the [n_post,3]×[3,9] product written out as broadcasts: under
    `vmap` over fits the einsum becomes a batched dot of tiny matrices, which XLA:CPU
    runs far slower than the equivalent fused element-wise pass."""
    t = pj._fold(theta, r)  # [3(a), 3(b), 3(c)]
    yy = y[:, None, None]
    b = eta * (t[None, :, 0, :] + yy * (t[None, :, 1, :] + yy * t[None, :, 2, :]))
    x2 = x * x

    def c(k):
        return b[:, 0, k, None] + b[:, 1, k, None] * x + b[:, 2, k, None] * x2

    return w + c(0) + w * (c(1) + w * c(2))


def session_loss_elementwise(update, theta, w0, xs, decisions, rewards, valid, n_pres,
                             weight_bound=None):
    """`pj.behaviour_session_loss` with `W x` written as a broadcast-and-sum (a batched
    matrix-vector product of [10, 2] matrices is slow on XLA:CPU under `vmap`)."""
    n_in = w0.shape[1]
    eta = 1.0 / n_in
    readout = 5.0 / w0.shape[0]
    idx = jnp.arange(xs.shape[0])

    def step(w, inp):
        x, d, r, v, p = inp
        h = jnp.tanh(jnp.sum(w * x[None, :], axis=1))
        z = readout * jnp.sum(h)
        ell = jax.nn.softplus(z) - d * z
        w_new = update(theta, w, x, h, r, eta)
        if weight_bound is not None:
            w_new = jnp.clip(w_new, -weight_bound, weight_bound)
        plastic = (d > 0) & (v > 0) & (p + 1 < n_pres)
        return jnp.where(plastic, w_new, w), v * ell

    _, ells = lax.scan(step, w0, (xs, decisions, rewards, valid, idx))
    return jnp.sum(ells) / n_pres


UPDATES = {"elementwise": taylor_update_elementwise, "fused": pj.taylor_update_fused}


def make_experiment(epochs, dtype=jnp.float64, form="fused"):
    update = UPDATES[form]

    def session_loss(theta, w0, xs, d, r, v, n):
        # presentations at or after n are masked out (the first-trials fits)
        vn = v * (jnp.arange(xs.shape[0]) < n)
        loss = (session_loss_elementwise if form == "elementwise"
                else pj.behaviour_session_loss)
        return loss(update, theta, w0, xs, d, r, vn, n.astype(dtype),
                    weight_bound=WEIGHT_BOUND)

    def objective(theta, mask, w0, xs, d, r, v, n):
        return session_loss(theta, w0, xs, d, r, v, n) + L1 * jnp.sum(jnp.abs(theta * mask))

    grad_fn = jax.value_and_grad(objective)

    def fit_one(mask, w0, xs, d, r, v, n_fit, n_full):
        b1, b2, eps = 0.9, 0.999, 1e-8

        def step(carry, t):
            theta, m, s = carry
            _, g = grad_fn(theta, mask, w0, xs, d, r, v, n_fit)
            g = g * mask
            m = b1 * m + (1 - b1) * g
            s = b2 * s + (1 - b2) * g * g
            k = (t + 1).astype(dtype)
            theta = theta - LEARNING_RATE * (m / (1 - b1 ** k)) / (jnp.sqrt(s / (1 - b2 ** k)) + eps)
            return (theta, m, s), None

        zero = jnp.zeros_like(mask)
        (theta, _, _), _ = lax.scan(step, (zero, zero, zero), jnp.arange(epochs))
        # data losses (means over presentations) of the fit and of θ = 0, on the fitted
        # presentations and on the whole session (held-out sum = full sum − prefix sum:
        # the prefix's losses do not depend on what comes after it)
        lf = session_loss(theta, w0, xs, d, r, v, n_fit)
        l0f = session_loss(zero, w0, xs, d, r, v, n_fit)
        la = session_loss(theta, w0, xs, d, r, v, n_full)
        l0a = session_loss(zero, w0, xs, d, r, v, n_full)
        return theta, jnp.stack([lf, l0f, la, l0a])

    return jax.jit(jax.vmap(fit_one))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="folder of Fly*.mat")
    p.add_argument("--out", required=True, help="JSON result")
    p.add_argument("--draws", type=int, default=5)
    p.add_argument("--epochs", type=int, default=250)
    p.add_argument("--form", choices=sorted(UPDATES), default="fused",
                   help="Taylor update and W x: element-wise broadcasts or "
                        "plasticity_jax.taylor_update_fused + behaviour_session_loss (default; faster here)")
    p.add_argument("--chunk", type=int, default=0,
                   help="fits per jitted call (default 0: n_fits / --parallel, rounded up)")
    p.add_argument("--parallel", type=int, default=os.cpu_count() or 1,
                   help="chunks run at once from that many Python threads (default: the "
                        "CPU count; XLA:CPU runs one vmapped scan on about one core)")
    args = p.parse_args(argv)

    paths = sorted(glob.glob(os.path.join(args.data, "*.mat")), key=_fly_key)
    if not paths:
        raise SystemExit(f"no .mat files in {args.data}")
    t0 = time.perf_counter()
    flies = [load_fly(path) for path in paths]
    arrays, index, p_max = build_fits(flies, args.draws, MODELS)
    load_s = time.perf_counter() - t0
    n_fits = len(index)
    chunk = args.chunk if args.chunk > 0 else -(-n_fits // max(args.parallel, 1))
    chunk = min(chunk, n_fits)
    n_chunks = -(-n_fits // chunk)
    pad = n_chunks * chunk - n_fits
    names = ["mask", "w0", "xs", "d", "r", "v", "n_fit", "n_full"]
    host = []
    for k in names:
        a = arrays[k]
        if pad:
            a = np.concatenate([a, np.repeat(a[-1:], pad, axis=0)])
        host.append(a)
    dtypes = [jnp.float64] * 6 + [jnp.int32] * 2
    batches = [[jnp.asarray(a[c * chunk:(c + 1) * chunk], dt) for a, dt in zip(host, dtypes)]
               for c in range(n_chunks)]

    experiment = make_experiment(args.epochs, form=args.form)
    t0 = time.perf_counter()
    compiled = experiment.lower(*batches[0]).compile()
    compile_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    if args.parallel > 1 and n_chunks > 1:
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(args.parallel) as pool:
            outs = list(pool.map(lambda b: jax.block_until_ready(compiled(*b)), batches))
    else:
        outs = [compiled(*b) for b in batches]
    jax.block_until_ready(outs)
    run_s = time.perf_counter() - t0

    thetas = np.concatenate([np.asarray(o[0]) for o in outs])[:n_fits]
    losses = np.concatenate([np.asarray(o[1]) for o in outs])[:n_fits]
    n_fit = arrays["n_fit"].astype(np.float64)
    n_full = arrays["n_full"].astype(np.float64)
    pd_all = {}
    heldout = {}
    nonfinite = int(np.sum(~np.isfinite(losses)))
    for (fi, mi, draw, subset), th, (lf, l0f, la, l0a), nf, na in zip(
            index, thetas, losses, n_fit, n_full):
        key = (fi, mi)
        if subset == "all":
            pd_all.setdefault(key, []).append(100.0 * (l0a - la) / l0a)
        else:
            h, h0 = na * la - nf * lf, na * l0a - nf * l0f
            heldout.setdefault(key, []).append(100.0 * (h0 - h) / h0)
    names_terms = pj.term_names("xywr")
    per_model = {}
    for mi, model in enumerate(MODELS):
        per_fly = [float(np.median(pd_all[(fi, mi)])) for fi in range(len(flies))]
        per_fly_h = [float(np.median(heldout[(fi, mi)])) for fi in range(len(flies))]
        coefs = {}
        for term in model.split(","):
            j = names_terms.index(term)
            vals = [np.median([th[j] for (f, m, _, s), th in zip(index, thetas)
                               if f == fi and m == mi and s == "all"])
                    for fi in range(len(flies))]
            coefs[term] = float(np.median(vals))
        per_model[model] = {
            "median_percent_deviance": float(np.median(per_fly)),
            "median_heldout_percent_deviance": float(np.median(per_fly_h)),
            "median_theta": coefs,
            "per_fly_percent_deviance": dict(zip([f["name"] for f in flies], per_fly)),
            "per_fly_heldout_percent_deviance": dict(zip([f["name"] for f in flies],
                                                         per_fly_h)),
        }
    result = {
        "flies": len(flies), "models": MODELS, "draws": args.draws, "epochs": args.epochs,
        "fits": n_fits, "adam_steps_per_fit": args.epochs,
        "padded_presentations": p_max, "fits_per_call": chunk, "calls": n_chunks,
        "batching": "vmap over all fits (fly × model × draw × {all, first}) padded to the "
                    "longest session; lax.scan over the Adam steps; one jitted call"
                    + (f" per chunk of {chunk}, {args.parallel} chunks at once from Python "
                       "threads" if n_chunks > 1 else ""),
        "parallel": args.parallel,
        "dtype": "float64", "taylor_form": args.form, "devices": [str(d) for d in jax.devices()],
        "load_s": load_s, "compile_s": compile_s, "run_s": run_s,
        "nonfinite_losses": nonfinite, "per_model": per_model,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"flies_jax: {n_fits} fits × {args.epochs} Adam steps ({len(flies)} flies × "
          f"{len(MODELS)} models × {args.draws} draws × 2), padded to {p_max} presentations, "
          f"{n_chunks} call(s) of {chunk}: run {run_s:.2f} s, compile {compile_s:.2f} s")
    for model, r in per_model.items():
        print(f"  {model:14s} median % deviance {r['median_percent_deviance']:.1f}, held-out "
              f"{r['median_heldout_percent_deviance']:.1f}")
    return result


if __name__ == "__main__":
    main()
