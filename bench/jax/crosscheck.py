"""Cross-check: the JAX models against `plasticity loss` on datasets made by the Rust CLI.

For each dataset it asks the Rust engine for the loss and the gradient over every Taylor
term at a non-trivial θ (`plasticity loss DATA --theta EXPR`, f64, checkpointed adjoint)
and computes the same with JAX `jit(value_and_grad)` in f64 and f32, then prints the
relative errors and writes them as JSON.

    bench/.venv/bin/python bench/jax/crosscheck.py --bin PATH/TO/plasticity [--paper]

Errors: `loss_rel = |L_jax − L_rust| / |L_rust|`; `grad_rel = max_k |g_jax − g_rust| /
max_k |g_rust|` (relative to the gradient's scale, so terms whose gradient is ~0 do not
blow it up); `grad_rel_elementwise` = max over terms with |g_rust| > 1e-8·max|g| of the
per-term relative error.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plasticity_jax as pj  # noqa: E402

pj.configure(x64=True)
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402


def rust(binary, *args):
    out = subprocess.run([binary, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{binary} {' '.join(args[:2])} failed:\n{out.stderr}")
    return out.stdout


def rust_loss(binary, data, expression):
    result = json.loads(rust(binary, "loss", str(data), f"--theta={expression}"))
    return result["loss"], result["gradient"]


def compare(name, rust_result, jax_result, names):
    loss_r, grad_r = rust_result
    g_r = np.array([grad_r[n] for n in names])
    loss_j, g_j = jax_result
    g_j = np.asarray(g_j, np.float64)
    scale = np.max(np.abs(g_r))
    big = np.abs(g_r) > 1e-8 * scale
    return {
        "case": name,
        "loss_rust": loss_r,
        "loss_jax": float(loss_j),
        "loss_rel": abs(float(loss_j) - loss_r) / abs(loss_r),
        "grad_rel": float(np.max(np.abs(g_j - g_r)) / scale),
        "grad_rel_elementwise": float(np.max(np.abs(g_j[big] - g_r[big]) / np.abs(g_r[big]))),
        "grad_norm": float(np.linalg.norm(g_r)),
    }


def jax_neural(data, theta, dtype, form="fused"):
    loss = pj.neural_loss_fn(pj.rule_update("taylor", "xyw", taylor_form=form), dtype)
    # lax.map-like batching keeps memory small at paper scale: sum over chunks of 10
    n = data.inputs.shape[0]
    f = jax.jit(jax.value_and_grad(loss))
    total, grad = 0.0, np.zeros(27)
    for start in range(0, n, 10):
        items = slice(start, min(n, start + 10))
        count = items.stop - items.start
        val, g = f(jnp.asarray(theta, dtype), *pj.neural_arrays(data, dtype, items))
        total += float(val) * count
        grad += np.asarray(g, np.float64) * count
    return total / n, grad / n


def jax_behaviour(data, theta, dtype, form="fused", weight_bound=None):
    loss = pj.behaviour_loss_fn(pj.rule_update("taylor", "xywr", taylor_form=form), dtype,
                                weight_bound=weight_bound)
    val, g = jax.jit(jax.value_and_grad(loss))(jnp.asarray(theta, dtype),
                                               *pj.behaviour_arrays(data, dtype))
    return float(val), np.asarray(g, np.float64)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="the plasticity binary")
    parser.add_argument("--paper", action="store_true",
                        help="also check the paper-scale Oja dataset (100→1000, 50 × 50)")
    parser.add_argument("--workdir", help="where datasets go (default: a temporary folder)")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    work = args.workdir or tempfile.mkdtemp(prefix="plasticity-crosscheck-")
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    results = []

    def report(r, dtype):
        r["dtype"] = dtype
        results.append(r)
        print(f"{r['case']:<34} {dtype:<4} loss {r['loss_rust']:.10g}  "
              f"loss_rel {r['loss_rel']:.2e}  grad_rel {r['grad_rel']:.2e}  "
              f"(elementwise {r['grad_rel_elementwise']:.2e})", flush=True)

    # ---- Oja, neural activity (27 terms over x, y, w) ----
    names27 = pj.term_names("xyw")
    theta27 = pj.theta_from_terms({"x*y": 1.0, "y^2*w": -1.0}) + 0.01 * rng.standard_normal(27)
    expr27 = pj.theta_to_expression(theta27, "xyw")
    oja_cases = [
        ("oja small (20→100, 10×50, rec 0.7, σ 0.1)", "oja-small.npz",
         ["--n-pre", "20", "--n-post", "100", "--trajectories", "10", "--steps", "50",
          "--recording-fraction", "0.7", "--noise-std", "0.1", "--seed", "3"]),
    ]
    if args.paper:
        oja_cases.append(("oja paper (100→1000, 50×50)", "oja-paper.npz", ["--seed", "4"]))
    for name, file, flags in oja_cases:
        path = os.path.join(work, file)
        rust(args.bin, "simulate", "oja", "--out", path, *flags)
        data = pj.load_neural(path)
        t0 = time.perf_counter()
        ref = rust_loss(args.bin, path, expr27)
        t_rust = time.perf_counter() - t0
        for dtype, jdt in (("f64", jnp.float64), ("f32", jnp.float32)):
            r = compare(name, ref, jax_neural(data, theta27, jdt), names27)
            r["rust_cli_seconds"] = t_rust
            report(r, dtype)
        # the other factorised form must agree too
        r = compare(name + " [matmul form]", ref, jax_neural(data, theta27, jnp.float64, "matmul"),
                    names27)
        report(r, "f64")

    # ---- behaviour (81 terms over x, y, w, r) ----
    names81 = pj.term_names("xywr")
    theta81 = pj.theta_from_terms({"x*r": 1.0, "w": -0.05}, "xywr") \
        + 0.002 * rng.standard_normal(81)
    expr81 = pj.theta_to_expression(theta81, "xywr")
    beh_cases = [
        ("behaviour (18×240, centred r)", "behaviour.npz", ["--seed", "5"]),
        ("behaviour (18×240, raw r, x*r-0.05*w)", "behaviour-raw.npz",
         ["--seed", "6", "--reward-signal", "raw", "--rule", "x*r - 0.05*w"]),
    ]
    for name, file, flags in beh_cases:
        path = os.path.join(work, file)
        rust(args.bin, "simulate", "behaviour", "--out", path, *flags)
        data = pj.load_behaviour(path)
        ref = rust_loss(args.bin, path, expr81)
        for dtype, jdt in (("f64", jnp.float64), ("f32", jnp.float32)):
            report(compare(name, ref, jax_behaviour(data, theta81, jdt), names81), dtype)

    summary = {
        "theta_neural": expr27,
        "theta_behaviour": expr81,
        "results": results,
        "max_f64": {k: max(r[k] for r in results if r["dtype"] == "f64")
                    for k in ("loss_rel", "grad_rel")},
        "max_f32": {k: max(r[k] for r in results if r["dtype"] == "f32")
                    for k in ("loss_rel", "grad_rel")},
        "jax_version": jax.__version__,
        "workdir": work,
    }
    print(f"max f64: loss_rel {summary['max_f64']['loss_rel']:.2e}, "
          f"grad_rel {summary['max_f64']['grad_rel']:.2e};  "
          f"max f32: loss_rel {summary['max_f32']['loss_rel']:.2e}, "
          f"grad_rel {summary['max_f32']['grad_rel']:.2e}")
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(summary, f, indent=2)
    ok = summary["max_f64"]["loss_rel"] < 1e-8 and summary["max_f64"]["grad_rel"] < 1e-7
    if not ok:
        print("crosscheck: f64 results DISAGREE with the Rust engine", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
