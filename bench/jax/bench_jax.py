"""JAX timings for the benchmark harness (bench/run drives this; it can run on its own).

    python bench_jax.py kernels --out K.json [--oja DATA.npz] [--behaviour DATA.npz] [--quick]
    python bench_jax.py point --model oja|behaviour [--steps T | --trials N] [--hidden H] ...
    python bench_jax.py oja-experiment --data DATA.npz [--epochs 250]

Every timing: the function is `jit`-compiled first (compile time reported apart), called
once more to warm up, then called `repeats` times with `block_until_ready`; the median
is reported (and min/max in the JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plasticity_jax as pj  # noqa: E402

pj.configure(x64=True, threads=int(os.environ.get("BENCH_JAX_THREADS", "0")) or None)
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

DTYPES = {"f64": jnp.float64, "f32": jnp.float32}


def rss_mb():
    """Peak resident set size of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def time_fn(fn, args, repeats):
    """Compile, warm up, then time `repeats` calls. Returns a dict of seconds."""
    t0 = time.perf_counter()
    compiled = fn.lower(*args).compile()
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    jax.block_until_ready(compiled(*args))
    first_s = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
            "repeats": repeats, "compile_s": compile_s, "first_call_s": first_s}


# ---------------------------------------------------------------------------------------
# (a) Oja: one trajectory, forward and gradient
# ---------------------------------------------------------------------------------------

OJA_VARIANTS = [("fused", False), ("fused", True), ("matmul", False), ("matmul", True)]


def oja_theta():
    rng = np.random.default_rng(0)
    return pj.theta_from_terms({"x*y": 1.0, "y^2*w": -1.0}) + 1e-3 * rng.standard_normal(27)


def oja_functions(dtype, form, remat, steps, family="taylor"):
    update = pj.rule_update(family, "xyw", taylor_form=form)
    k = max(1, int(np.ceil(np.sqrt(steps)))) if remat else None
    loss = pj.neural_loss_fn(update, dtype, checkpoint_every=k)
    return jax.jit(loss), jax.jit(jax.value_and_grad(loss))


def bench_oja(data, repeats, variants=OJA_VARIANTS, dtypes=("f64", "f32")):
    out = {}
    theta = oja_theta()
    steps = data.inputs.shape[1]
    for name in dtypes:
        dt = DTYPES[name]
        arrays = pj.neural_arrays(data, dt, slice(0, 1))
        th = jnp.asarray(theta, dt)
        rows = []
        for form, remat in variants:
            f, g = oja_functions(dt, form, remat, steps)
            fwd = time_fn(f, (th, *arrays), repeats)
            grad = time_fn(g, (th, *arrays), repeats)
            label = f"{form}{'+remat' if remat else ''}"
            rows.append({"variant": label, "forward": fwd, "gradient": grad})
            print(f"  oja {name} {label:<13} forward {fwd['median_s']*1e3:8.2f} ms  "
                  f"gradient {grad['median_s']*1e3:8.2f} ms  (compile {fwd['compile_s']:.1f}"
                  f" + {grad['compile_s']:.1f} s)", flush=True)
        best_f = min(rows, key=lambda r: r["forward"]["median_s"])
        best_g = min(rows, key=lambda r: r["gradient"]["median_s"])
        out[name] = {"variants": rows,
                     "forward_s": best_f["forward"]["median_s"], "forward_variant": best_f["variant"],
                     "gradient_s": best_g["gradient"]["median_s"],
                     "gradient_variant": best_g["variant"],
                     "compile_forward_s": best_f["forward"]["compile_s"],
                     "compile_gradient_s": best_g["gradient"]["compile_s"]}
    return out


def bench_oja_mlp(data, repeats):
    """Oja circuit with the MLP rule (3 inputs, one hidden layer of 10), f64 gradient."""
    rng = np.random.default_rng(0)
    th = jnp.asarray(0.01 * rng.standard_normal(pj.mlp_n_parameters(3)))
    arrays = pj.neural_arrays(data, jnp.float64, slice(0, 1))
    res = {}
    for remat in (False, True):
        k = int(np.ceil(np.sqrt(data.inputs.shape[1]))) if remat else None
        loss = pj.neural_loss_fn(pj.rule_update("mlp", "xyw"), jnp.float64, checkpoint_every=k)
        res["remat" if remat else "tape"] = {
            "forward": time_fn(jax.jit(loss), (th, *arrays), repeats),
            "gradient": time_fn(jax.jit(jax.value_and_grad(loss)), (th, *arrays), repeats)}
    best = min(res.values(), key=lambda r: r["gradient"]["median_s"])
    print(f"  oja mlp f64 forward {best['forward']['median_s']*1e3:.2f} ms  gradient "
          f"{best['gradient']['median_s']*1e3:.2f} ms", flush=True)
    return {"variants": res, "forward_s": min(r["forward"]["median_s"] for r in res.values()),
            "gradient_s": best["gradient"]["median_s"]}


# ---------------------------------------------------------------------------------------
# (b) behaviour: one epoch over all sessions
# ---------------------------------------------------------------------------------------


def behaviour_theta(family, seed=0):
    rng = np.random.default_rng(seed)
    if family == "taylor":
        return pj.theta_from_terms({"x*r": 1.0, "w": -0.05}, "xywr") \
            + 1e-3 * rng.standard_normal(81)
    return 0.01 * rng.standard_normal(pj.mlp_n_parameters(4))


def bench_behaviour(data, repeats, dtypes=("f64",), batch1=True, weight_bound=None):
    out = {}
    for name in dtypes:
        dt = DTYPES[name]
        arrays = pj.behaviour_arrays(data, dt)
        for family in ("taylor", "mlp"):
            th = jnp.asarray(behaviour_theta(family), dt)
            loss = pj.behaviour_loss_fn(pj.rule_update(family, "xywr"), dt,
                                        weight_bound=weight_bound)
            grad = time_fn(jax.jit(jax.value_and_grad(loss)), (th, *arrays), repeats)
            fwd = time_fn(jax.jit(loss), (th, *arrays), repeats)
            entry = {"epoch_full_batch": grad, "forward_full_batch": fwd,
                     "epoch_s": grad["median_s"], "compile_s": grad["compile_s"]}
            msg = (f"  behaviour {name} {family:<6} epoch (18 sessions, one vmapped "
                   f"value_and_grad) {grad['median_s']*1e3:8.2f} ms  forward "
                   f"{fwd['median_s']*1e3:7.2f} ms  (compile {grad['compile_s']:.1f} s)")
            if batch1:
                # batch size 1, as the fit's Adam does: one value_and_grad per session
                one = jax.jit(jax.value_and_grad(loss))
                singles = [tuple(a[k:k + 1] for a in arrays) for k in range(arrays[0].shape[0])]
                jax.block_until_ready(one(th, *singles[0]))
                times = []
                for _ in range(max(1, repeats // 2)):
                    t0 = time.perf_counter()
                    for s in singles:
                        jax.block_until_ready(one(th, *s))
                    times.append(time.perf_counter() - t0)
                entry["epoch_batch1_s"] = statistics.median(times)
                msg += f"  batch-1 epoch {entry['epoch_batch1_s']*1e3:8.2f} ms"
            print(msg, flush=True)
            out[f"{name}_{family}"] = entry
    return out


# ---------------------------------------------------------------------------------------
# (c) one scaling point, in its own process (peak memory is per process)
# ---------------------------------------------------------------------------------------


def scaling_point(args):
    base_rss = rss_mb()
    dt = DTYPES[args.dtype]
    if args.model == "oja":
        if args.data:
            data = pj.load_neural(args.data)
            data.inputs, data.initial_weights = data.inputs[:1], data.initial_weights[:1]
            data.recorded_activity = data.recorded_activity[:1]
        else:
            data = pj.synthetic_neural(1, args.steps, args.n_pre, args.hidden, seed=0)
        arrays = pj.neural_arrays(data, dt, slice(0, 1))
        f, g = oja_functions(dt, args.form, args.remat, data.inputs.shape[1])
        th = jnp.asarray(oja_theta(), dt)
        size = {"steps": int(data.inputs.shape[1]), "n_pre": int(data.inputs.shape[2]),
                "hidden": int(data.initial_weights.shape[1])}
    else:
        if args.data:
            data = pj.load_behaviour(args.data)
        else:
            data = pj.synthetic_behaviour(args.sessions, args.trials, 2, args.hidden, seed=0)
        arrays = pj.behaviour_arrays(data, dt)
        loss = pj.behaviour_loss_fn(pj.rule_update(args.rule, "xywr"), dt)
        f, g = jax.jit(loss), jax.jit(jax.value_and_grad(loss))
        th = jnp.asarray(behaviour_theta(args.rule), dt)
        size = {"trials": args.trials, "hidden": int(data.initial_weights.shape[1]),
                **data.shape}
    ready_rss = rss_mb()
    result = {"model": args.model, "dtype": args.dtype, **size,
              "gradient": time_fn(g, (th, *arrays), args.repeats)}
    grad_rss = rss_mb()
    if not args.no_forward:
        result["forward"] = time_fn(f, (th, *arrays), args.repeats)
    result.update({"rss_start_mb": base_rss, "rss_data_mb": ready_rss,
                   "peak_rss_mb": grad_rss, "peak_rss_all_mb": rss_mb(),
                   "variant": f"{args.form}{'+remat' if args.remat else ''}"
                   if args.model == "oja" else args.rule})
    return result


# ---------------------------------------------------------------------------------------
# (d) the paper Oja experiment: Adam, batch size 1, epochs × trajectories
# ---------------------------------------------------------------------------------------


def oja_experiment(args):
    data = pj.load_neural(args.data) if args.data else pj.synthetic_neural(50, 50, 100, 1000)
    dt = DTYPES[args.dtype]
    n = data.inputs.shape[0]
    w0, xs, tg, neurons = pj.neural_arrays(data, dt)
    update = pj.rule_update("taylor", "xyw", taylor_form=args.form)
    k = int(np.ceil(np.sqrt(xs.shape[1]))) if args.remat else None
    loss = pj.neural_loss_fn(update, dt, checkpoint_every=k)
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-8

    @jax.jit
    def step(theta, m, v, t, k):
        batch = (jax.lax.dynamic_slice_in_dim(w0, k, 1), jax.lax.dynamic_slice_in_dim(xs, k, 1),
                 jax.lax.dynamic_slice_in_dim(tg, k, 1), neurons)
        val, g = jax.value_and_grad(loss)(theta, *batch)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        theta = theta - lr * (m / (1 - b1 ** t)) / (jnp.sqrt(v / (1 - b2 ** t)) + eps)
        return theta, m, v, val

    rng = np.random.default_rng(0)
    theta = jnp.asarray(1e-5 * rng.standard_normal(27), dt)
    m = jnp.zeros(27, dt)
    v = jnp.zeros(27, dt)
    t0 = time.perf_counter()
    jax.block_until_ready(step.lower(theta, m, v, jnp.asarray(1.0, dt), 0).compile())
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    t = 0
    history = []
    for epoch in range(args.epochs):
        order = rng.permutation(n)
        total = 0.0
        for k in order:
            t += 1
            theta, m, v, val = step(theta, m, v, jnp.asarray(float(t), dt), int(k))
            total += val
        history.append(float(total) / n)
    jax.block_until_ready(theta)
    run_s = time.perf_counter() - t0
    names = pj.term_names("xyw")
    th = np.asarray(theta)
    return {"epochs": args.epochs, "trajectories": n, "dtype": args.dtype,
            "compile_s": compile_s, "run_s": run_s, "per_epoch_s": run_s / args.epochs,
            "extrapolated_250_epochs_s": run_s / args.epochs * 250,
            "final_loss": history[-1], "theta_xy": float(th[names.index("x*y")]),
            "theta_y2w": float(th[names.index("y^2*w")]), "variant":
            f"{args.form}{'+remat' if args.remat else ''}", "peak_rss_mb": rss_mb()}


# ---------------------------------------------------------------------------------------


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    k = sub.add_parser("kernels", help="(a) Oja and (b) behaviour timings")
    k.add_argument("--out", required=True)
    k.add_argument("--oja", help="neural .npz (first trajectory used); default synthetic")
    k.add_argument("--behaviour", help="behaviour .npz; default synthetic 18 × 240")
    k.add_argument("--repeats", type=int, default=7)
    k.add_argument("--quick", action="store_true", help="fewer repeats and variants")
    k.add_argument("--skip-oja", action="store_true")
    k.add_argument("--skip-behaviour", action="store_true")

    q = sub.add_parser("point", help="(c) one scaling point (run in its own process)")
    q.add_argument("--model", choices=["oja", "behaviour"], required=True)
    q.add_argument("--data", help="dataset .npz (else synthetic of the given size)")
    q.add_argument("--steps", type=int, default=50)
    q.add_argument("--n-pre", type=int, default=100)
    q.add_argument("--hidden", type=int, default=1000)
    q.add_argument("--trials", type=int, default=240)
    q.add_argument("--sessions", type=int, default=18)
    q.add_argument("--rule", choices=["taylor", "mlp"], default="taylor")
    q.add_argument("--dtype", choices=list(DTYPES), default="f64")
    q.add_argument("--form", choices=["fused", "matmul"], default="fused")
    q.add_argument("--remat", action="store_true")
    q.add_argument("--repeats", type=int, default=3)
    q.add_argument("--no-forward", action="store_true")
    q.add_argument("--out")

    e = sub.add_parser("oja-experiment", help="(d) Adam, batch 1, epochs × trajectories")
    e.add_argument("--data")
    e.add_argument("--epochs", type=int, default=250)
    e.add_argument("--dtype", choices=list(DTYPES), default="f64")
    e.add_argument("--form", choices=["fused", "matmul"], default="fused")
    e.add_argument("--remat", action="store_true")
    e.add_argument("--out")
    args = p.parse_args(argv)

    meta = {"jax": jax.__version__, "numpy": np.__version__, "cpus": os.cpu_count(),
            "xla_flags": os.environ.get("XLA_FLAGS", ""),
            "affinity": sorted(os.sched_getaffinity(0))}
    if args.command == "kernels":
        repeats = 3 if args.quick else args.repeats
        result = {"meta": meta}
        if not args.skip_oja:
            data = pj.load_neural(args.oja) if args.oja else pj.synthetic_neural(1, 50, 100, 1000)
            variants = [("fused", True), ("matmul", True)] if args.quick else OJA_VARIANTS
            result["oja"] = bench_oja(data, repeats, variants)
            result["oja"]["shape"] = data.shape
            if not args.quick:
                result["oja_mlp"] = bench_oja_mlp(data, repeats)
        if not args.skip_behaviour:
            data = pj.load_behaviour(args.behaviour) if args.behaviour \
                else pj.synthetic_behaviour(18, 240)
            result["behaviour"] = bench_behaviour(
                data, repeats, dtypes=("f64",) if args.quick else ("f64", "f32"),
                batch1=not args.quick)
            result["behaviour_shape"] = data.shape
        result["peak_rss_mb"] = rss_mb()
        out = args.out
    elif args.command == "point":
        result = {"meta": meta, **scaling_point(args)}
        out = args.out
    else:
        result = {"meta": meta, **oja_experiment(args)}
        print(f"  oja experiment: {result['epochs']} epochs × {result['trajectories']} "
              f"trajectories in {result['run_s']:.1f} s (compile {result['compile_s']:.1f} s); "
              f"θ_xy {result['theta_xy']:.3f}, θ_y²w {result['theta_y2w']:.3f}", flush=True)
        out = args.out
    text = json.dumps(result, indent=2)
    if out:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out, "w") as f:
            f.write(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
