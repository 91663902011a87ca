"""The benchmark harness behind `bench/run`: Rust and JAX on the same data, one table.

See bench/README.md for what each number means. Sections:
  cross   cross-check JAX against `plasticity loss` (f64 and f32)
  a       Oja 100→1000, T = 50: forward and gradient of one trajectory, f64 and f32
  b       behaviour: one epoch over 18 sessions × 240 trials, 81-term Taylor and MLP
  c       scaling: behaviour trials 30…1920 and hidden 10…1000 (and the Oja circuit's
          steps and n_post with --oja-scaling); time and peak memory, one process each
  d       the paper Oja experiment (250 epochs × 50 trajectories, Adam, batch 1)
  e       real flies: `plasticity flies` (everything, then the per-fly fits only) and
          the JAX per-fly fits (flies_jax.py)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
REPO = os.path.dirname(BENCH)
sys.path.insert(0, HERE)

TRIALS = [30, 60, 120, 240, 480, 960, 1920]
HIDDEN = [10, 50, 100, 500, 1000]
QUICK_TRIALS = [30, 240, 1920]
QUICK_HIDDEN = [10, 100, 1000]
RUST_KEYS = ["oja_forward_f64_s", "oja_gradient_f64_s", "oja_forward_f32_s",
             "oja_gradient_f32_s", "behaviour_epoch_taylor_s", "behaviour_epoch_mlp_s"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_measured(cmd, env=None):
    """Runs `cmd` and returns (stdout, wall seconds, child's own peak RSS in MiB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    # read output before wait4 so a chatty child cannot block on a full pipe
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd[:4]))} … failed ({proc.returncode}):\n"
                           f"{err.decode(errors='replace')[-3000:]}")
    return out.decode(), seconds, usage.ru_maxrss / 1024.0


class Rust:
    def __init__(self, binary):
        self.binary = binary if binary and os.path.exists(binary) else None
        self.help = ""
        if self.binary:
            self.help = subprocess.run([self.binary, "--help"], capture_output=True,
                                       text=True).stdout

    @property
    def has_bench_kernels(self):
        return "bench-kernels" in self.help

    def simulate(self, kind, out, *flags):
        if os.path.exists(out):
            return out
        subprocess.run([self.binary, "simulate", kind, "--out", out, *flags], check=True,
                       capture_output=True)
        return out

    def bench_kernels(self, out, oja=None, behaviour=None):
        """# RUST HOOK: `plasticity bench-kernels --json OUT.json` (the Rust engineer's
        subcommand). Dataset flags are passed only when its --help mentions them."""
        if not self.has_bench_kernels:
            return None
        sub_help = subprocess.run([self.binary, "bench-kernels", "--help"], capture_output=True,
                                  text=True).stdout
        cmd = [self.binary, "bench-kernels", "--json", out]
        if oja and "--oja" in sub_help:
            cmd += ["--oja", oja]
        if behaviour and "--behaviour" in sub_help:
            cmd += ["--behaviour", behaviour]
        log(f"rust: {' '.join(cmd)}")
        subprocess.run(cmd, check=True)
        with open(out) as f:
            return json.load(f)

    def trajectory(self, steps, n_post, repeats=3, env=None):
        """`plasticity bench-kernels --case trajectory`: forward and gradient of one Oja
        trajectory (f64, computation only) and the process's peak RSS."""
        out, seconds, rss = run_measured(
            [self.binary, "bench-kernels", "--case", "trajectory", "--steps", str(steps),
             "--n-post", str(n_post), "--repeats", str(repeats)], env=env)
        result = json.loads(out)
        result["process_s"] = seconds
        result["process_peak_rss_mb"] = rss
        return result

    def loss(self, data, expression, repeats=3):
        """`plasticity loss` (f64 loss + gradient over every item): wall time of the whole
        process (start, .npz load, computation) and its peak RSS; median of `repeats`."""
        times, peak = [], 0.0
        for _ in range(repeats):
            _, s, rss = run_measured([self.binary, "loss", data, f"--theta={expression}"])
            times.append(s)
            peak = max(peak, rss)
        return {"median_s": statistics.median(times), "min_s": min(times), "peak_rss_mb": peak}


def python():
    return sys.executable


def jax_point(args_list, env):
    out, seconds, rss = run_measured([python(), os.path.join(HERE, "bench_jax.py"), "point",
                                      *args_list], env=env)
    result = json.loads(out)
    result["process_s"] = seconds
    result["process_peak_rss_mb"] = rss
    return result


def fmt_s(x):
    if x is None:
        return "n/a"
    if x >= 1:
        return f"{x:.2f} s"
    if x >= 1e-3:
        return f"{x*1e3:.2f} ms"
    return f"{x*1e6:.1f} µs"


def ratio(rust, jax):
    if rust is None or jax is None or rust == 0:
        return "n/a"
    return f"{jax / rust:.2f}×"


def table(rows, header):
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    print()


def plot_scaling(scaling, stem):
    """Time of the gradient against length and against hidden size, Rust and JAX, for
    every series; `stem.png` and `stem.svg` (matplotlib, from the bench venv)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("harness: matplotlib missing, no scaling plot (bench/setup-jax.sh installs it)")
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, axis, key, label in ((axes[0], ("trials", "steps"), "length", "length (trials or steps)"),
                                 (axes[1], ("hidden",), "hidden", "hidden units")):
        for model in ("behaviour", "oja"):
            rows = [r for r in scaling if r["model"] == model and
                    (r["axis"] in axis or (key == "hidden" and r["axis"] != "hidden"
                                           and r["length"] == (240 if model == "behaviour" else 50)))]
            rows = sorted({r[key]: r for r in rows}.values(), key=lambda r: r[key])
            if not rows:
                continue
            xs = [r[key] for r in rows]
            rust = [(r.get("rust_kernel") or {}).get("oja_gradient_f64_s")
                    or (r.get("rust_cli") or {}).get("median_s") for r in rows]
            jax = [(r.get("jax_f64") or {}).get("gradient", {}).get("median_s") for r in rows]
            ax.plot(xs, rust, "o-", label=f"Rust, {model}")
            ax.plot(xs, jax, "s--", label=f"JAX f64, {model}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("loss + gradient (s)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    for ext in ("png", "svg"):
        fig.savefig(f"{stem}.{ext}", dpi=120)
    log(f"harness: plot {stem}.png/.svg")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=os.environ.get("PLASTICITY_BIN"),
                   help="the plasticity binary (bench/run builds and passes it)")
    p.add_argument("--quick", action="store_true",
                   help="fewer repeats, variants and scaling points; no (d)")
    p.add_argument("--only", default="cross,a,b,c,m,t",
                   help="comma-separated sections: cross,a,b,c,d,e,m,t (default: cross,a,b,c,m,t; "
                        "d (paper Oja experiment) and e (flies) take minutes, ask for them)")
    p.add_argument("--oja-scaling", action="store_true",
                   help="(c) also scale the Oja circuit: steps 30…1920 at 100→1000, "
                        "n_post 10…1000 at T = 50")
    p.add_argument("--epochs", type=int, default=250, help="(d) epochs (default 250)")
    p.add_argument("--jax-epochs", type=int, default=None,
                   help="(d) epochs for the JAX side only (default: --epochs); the time is "
                        "also extrapolated to 250")
    p.add_argument("--results", default=os.path.join(BENCH, "results"))
    p.add_argument("--threads", type=int, default=0,
                   help="1: single-threaded XLA (BENCH_JAX_THREADS=1); default all cores")
    args = p.parse_args(argv)
    sections = set(args.only.split(","))
    os.makedirs(args.results, exist_ok=True)
    data_dir = os.path.join(args.results, "data")
    os.makedirs(data_dir, exist_ok=True)
    env = dict(os.environ)
    if args.threads:
        env["BENCH_JAX_THREADS"] = str(args.threads)

    rust = Rust(args.bin)
    if not rust.binary:
        log("harness: no plasticity binary: JAX runs on synthetic data, Rust is n/a")
    results = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                           "python": platform.python_version(),
                           "xla_flags": env.get("XLA_FLAGS", ""),
                           "bench_jax_threads": env.get("BENCH_JAX_THREADS", "all")},
               "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "quick": args.quick}

    # datasets, made once by the Rust CLI (same data for both sides)
    oja_paper = beh = None
    if rust.binary:
        oja_paper = rust.simulate("oja", os.path.join(data_dir, "oja-paper.npz"), "--seed", "4")
        beh = rust.simulate("behaviour", os.path.join(data_dir, "behaviour.npz"), "--seed", "5")
        results["datasets"] = {"oja": oja_paper, "behaviour": beh}

    if "cross" in sections and rust.binary:
        log("== cross-check: JAX vs plasticity loss")
        cmd = [python(), os.path.join(HERE, "crosscheck.py"), "--bin", rust.binary,
               "--workdir", data_dir, "--out", os.path.join(args.results, "crosscheck.json")]
        if not args.quick:
            cmd.append("--paper")
        subprocess.run(cmd, env=env)
        with open(os.path.join(args.results, "crosscheck.json")) as f:
            results["crosscheck"] = json.load(f)

    kernels = None
    if sections & {"a", "b"}:
        log("== (a)/(b) JAX kernels")
        out = os.path.join(args.results, "jax-kernels.json")
        cmd = [python(), os.path.join(HERE, "bench_jax.py"), "kernels", "--out", out]
        if oja_paper:
            cmd += ["--oja", oja_paper]
        if beh:
            cmd += ["--behaviour", beh]
        if args.quick:
            cmd.append("--quick")
        if "a" not in sections:
            cmd.append("--skip-oja")
        if "b" not in sections:
            cmd.append("--skip-behaviour")
        subprocess.run(cmd, check=True, env=env)
        with open(out) as f:
            kernels = json.load(f)
        results["jax_kernels"] = kernels

    rust_kernels = None
    if sections & {"a", "b", "c"} and rust.binary:
        try:
            rust_kernels = rust.bench_kernels(os.path.join(args.results, "rust-kernels.json"),
                                              oja_paper, beh)
        except Exception as exc:  # keep the JAX side working on its own
            log(f"harness: plasticity bench-kernels failed: {exc}")
        if rust_kernels is None:
            log("harness: `plasticity bench-kernels` not available: Rust kernel times n/a")
        results["rust_kernels"] = rust_kernels

    scaling = []
    if "c" in sections:
        log("== (c) scaling, one process per point")
        trials = QUICK_TRIALS if args.quick else TRIALS
        hidden = QUICK_HIDDEN if args.quick else HIDDEN
        reps = ["--repeats", "2" if args.quick else "3", "--no-forward"]
        theta_b = "x*r - 0.05*w + 0.001*x*y*r - 0.001*y"
        theta_o = "x*y - y^2*w + 0.001*x + 0.001*y*w"
        points = [("behaviour", "trials", n, 10) for n in trials] + \
                 [("behaviour", "hidden", 240, h) for h in hidden if h != 10]
        if args.oja_scaling:
            points += [("oja", "steps", n, 1000) for n in trials] + \
                      [("oja", "hidden", 50, h) for h in hidden]
        for model, axis, length, h in points:
            row = {"model": model, "axis": axis, "length": length, "hidden": h}
            flags = []
            if rust.binary:
                if model == "behaviour":
                    if length % 3:
                        raise ValueError("trials must be a multiple of 3 blocks")
                    path = rust.simulate("behaviour", os.path.join(
                        data_dir, f"beh-t{length}-h{h}.npz"), "--trials-per-block",
                        str(length // 3), "--n-hidden", str(h), "--seed", "7")
                else:
                    path = rust.simulate("oja", os.path.join(data_dir, f"oja-t{length}-h{h}.npz"),
                                         "--trajectories", "1", "--steps", str(length),
                                         "--n-post", str(h), "--seed", "7")
                flags = ["--data", path]
                try:
                    row["rust_cli"] = rust.loss(path, theta_b if model == "behaviour" else theta_o,
                                                repeats=2 if args.quick else 3)
                    if model == "oja" and rust.has_bench_kernels:
                        row["rust_kernel"] = rust.trajectory(length, h,
                                                             repeats=2 if args.quick else 3)
                except Exception as exc:
                    log(f"harness: rust loss failed on {path}: {exc}")
            if model == "behaviour":
                flags += ["--model", "behaviour", "--trials", str(length), "--hidden", str(h)]
            else:
                flags += ["--model", "oja", "--steps", str(length), "--hidden", str(h), "--remat"]
            for dtype in (["f64"] if args.quick else ["f64", "f32"]):
                try:
                    row[f"jax_{dtype}"] = jax_point(flags + reps + ["--dtype", dtype], env)
                except Exception as exc:
                    log(f"harness: JAX point {row} failed: {exc}")
            j = row.get("jax_f64", {})
            log(f"  {model:<9} {axis:<6} length {length:>5} hidden {h:>5}: JAX f64 gradient "
                f"{fmt_s(j.get('gradient', {}).get('median_s'))}, peak "
                f"{j.get('process_peak_rss_mb', float('nan')):.0f} MiB; Rust CLI "
                f"{fmt_s(row.get('rust_cli', {}).get('median_s'))}, peak "
                f"{row.get('rust_cli', {}).get('peak_rss_mb', float('nan')):.0f} MiB")
            scaling.append(row)
        results["scaling"] = scaling

    if "d" in sections:
        jax_epochs = args.jax_epochs or args.epochs
        log(f"== (d) paper Oja experiment, JAX, {jax_epochs} epochs")
        out = os.path.join(args.results, "jax-oja-experiment.json")
        best = (kernels or {}).get("oja", {}).get("f64", {}).get("gradient_variant", "fused+remat")
        cmd = [python(), os.path.join(HERE, "bench_jax.py"), "oja-experiment", "--out", out,
               "--epochs", str(jax_epochs), "--form", best.split("+")[0]]
        if "remat" in best:
            cmd.append("--remat")
        if oja_paper:
            cmd += ["--data", oja_paper]
        _, seconds, rss = run_measured(cmd, env=env)
        with open(out) as f:
            results["oja_experiment"] = {**json.load(f), "process_s": seconds,
                                         "process_peak_rss_mb": rss}

    if "d" in sections and rust.binary and oja_paper:
        log("== (d) paper Oja experiment, Rust: plasticity fit --optimizer adam (250 epochs)")
        out_dir = os.path.join(args.results, "rust-oja-experiment")
        _, seconds, rss = run_measured([rust.binary, "fit", oja_paper, "--out", out_dir,
                                        "--optimizer", "adam", "--epochs", str(args.epochs)],
                                       env=env)
        with open(os.path.join(out_dir, "results.json")) as f:
            fitted = json.load(f)
        results["rust_oja_experiment"] = {
            "epochs": args.epochs, "process_s": seconds, "process_peak_rss_mb": rss,
            "x*y": fitted.get("coefficients", {}).get("x*y"),
            "y^2*w": fitted.get("coefficients", {}).get("y^2*w"),
            "metrics": fitted.get("metrics")}
        log(f"  Rust: {seconds:.1f} s, peak {rss:.0f} MiB")

    if "e" in sections and rust.binary:
        flies = os.path.join(REPO, "data", "flies")
        if os.path.isdir(flies):
            log(f"== (e) fly model comparison: plasticity flies {flies}")
            out_dir = os.path.join(args.results, "rust-flies")
            _, seconds, rss = run_measured([rust.binary, "flies", flies, "--out", out_dir],
                                           env=env)
            results["rust_flies"] = {"process_s": seconds, "process_peak_rss_mb": rss}
            log(f"  Rust: {seconds:.1f} s, peak {rss:.0f} MiB")
            # the core the JAX side implements: per-fly fits only (no Q-learning, no
            # profile intervals, no shared-rule population fit)
            core_dir = os.path.join(args.results, "rust-flies-core")
            _, seconds, rss = run_measured([rust.binary, "flies", flies, "--out", core_dir,
                                            "--no-q-learning", "--no-intervals",
                                            "--population-folds", "0"], env=env)
            results["rust_flies_core"] = {"process_s": seconds, "process_peak_rss_mb": rss}
            log(f"  Rust core (--no-q-learning --no-intervals --population-folds 0): "
                f"{seconds:.1f} s, peak {rss:.0f} MiB")
            log("== (e) fly model comparison, JAX: the same per-fly fits (flies_jax.py)")
            out = os.path.join(args.results, "jax-flies.json")
            _, seconds, rss = run_measured([python(), os.path.join(HERE, "flies_jax.py"),
                                            "--data", flies, "--out", out], env=env)
            with open(out) as f:
                results["jax_flies"] = {**json.load(f), "process_s": seconds,
                                        "process_peak_rss_mb": rss}
            log(f"  JAX: run {results['jax_flies']['run_s']:.1f} s + compile "
                f"{results['jax_flies']['compile_s']:.1f} s (process {seconds:.1f} s)")
        else:
            log(f"harness: (e) skipped, no fly data at {flies}")

    if "m" in sections and rust.has_bench_kernels:
        log("== memory: gradient of one 100→1000 trajectory, T = 10,000")
        results["rust_memory"] = rust.trajectory(10000, 1000, repeats=1, env=env)
        log(f"  Rust: gradient {results['rust_memory']['oja_gradient_f64_s']:.2f} s, peak "
            f"{results['rust_memory']['process_peak_rss_mb']:.0f} MiB")

    if "t" in sections and rust.binary and oja_paper:
        log("== threads: plasticity loss over the 50 paper-scale trajectories, 1 and 2 threads")
        theta = "x*y - y^2*w + 0.001*x + 0.001*y*w"
        threads = {}
        for n in (1, 2):
            times, outputs = [], []
            for _ in range(3):
                out, seconds, _ = run_measured([rust.binary, "loss", oja_paper,
                                                f"--theta={theta}"],
                                               env={**env, "RAYON_NUM_THREADS": str(n)})
                times.append(seconds)
                outputs.append(out)
            threads[str(n)] = {"median_s": statistics.median(times), "output": outputs[0]}
        results["rust_threads"] = {
            "one_s": threads["1"]["median_s"], "two_s": threads["2"]["median_s"],
            "speedup": threads["1"]["median_s"] / threads["2"]["median_s"],
            "identical": threads["1"]["output"] == threads["2"]["output"]}
        log(f"  Rust: {results['rust_threads']}")

    with open(os.path.join(args.results, "jax.json"), "w") as f:
        json.dump(results, f, indent=2)

    if scaling:
        plot_scaling(scaling, os.path.join(args.results, "scaling"))

    # ---------------------------------------------------------------- the table
    print()
    rk = rust_kernels or {}
    rows = []
    if kernels and "oja" in kernels:
        o = kernels["oja"]
        for what in ("forward", "gradient"):
            for dt in ("f64", "f32"):
                if dt in o:
                    jt = o[dt][f"{what}_s"]
                    rt = rk.get(f"oja_{what}_{dt}_s")
                    rows.append([f"(a) Oja 100→1000 T=50 {what} {dt}", fmt_s(rt), fmt_s(jt),
                                 ratio(rt, jt), o[dt][f"{what}_variant"]])
        if "oja_mlp" in kernels:
            rows.append(["(a) Oja MLP rule gradient f64", "n/a",
                         fmt_s(kernels["oja_mlp"]["gradient_s"]), "n/a", "mlp"])
    if kernels and "behaviour" in kernels:
        b = kernels["behaviour"]
        for fam in ("taylor", "mlp"):
            e = b.get(f"f64_{fam}")
            if e:
                rt = rk.get(f"behaviour_epoch_{fam}_s")
                rows.append([f"(b) behaviour epoch 18×240 {fam} f64", fmt_s(rt),
                             fmt_s(e["epoch_s"]), ratio(rt, e["epoch_s"]), "vmap, full batch"])
                if "epoch_batch1_s" in e:
                    rows.append([f"(b) behaviour epoch {fam} f64, batch 1", "n/a",
                                 fmt_s(e["epoch_batch1_s"]), "n/a", "18 calls"])
    if rows:
        print("Kernels (median; JAX compile excluded)")
        table(rows, ["benchmark", "Rust", "JAX", "JAX/Rust", "JAX variant"])
    if scaling:
        rows = []
        for row in scaling:
            j = row.get("jax_f64", {})
            j32 = row.get("jax_f32", {})
            r = row.get("rust_cli", {})
            jg = j.get("gradient", {}).get("median_s")
            rows.append([f"{row['model']} {row['axis']}", row["length"], row["hidden"],
                         fmt_s(r.get("median_s")), fmt_s(jg),
                         fmt_s(j32.get("gradient", {}).get("median_s")) if j32 else "-",
                         fmt_s(j.get("gradient", {}).get("compile_s")),
                         f"{r['peak_rss_mb']:.0f}" if r else "n/a",
                         f"{j.get('process_peak_rss_mb', 0):.0f}" if j else "n/a"])
        print("Scaling: loss + gradient over the dataset (behaviour: 18 sessions; Oja: 1 "
              "trajectory). Rust = whole `plasticity loss` process (start, load, compute); "
              "JAX = jitted call only")
        table(rows, ["series", "length", "hidden", "Rust CLI", "JAX f64", "JAX f32",
                     "JAX compile", "Rust MiB", "JAX MiB"])
    if "oja_experiment" in results:
        e = results["oja_experiment"]
        print(f"(d) Oja paper experiment, JAX f64 {e['variant']}: {e['epochs']} epochs × "
              f"{e['trajectories']} trajectories = {e['run_s']:.1f} s (+ compile "
              f"{e['compile_s']:.1f} s; process {e['process_s']:.1f} s, peak "
              f"{e['process_peak_rss_mb']:.0f} MiB; 250 epochs extrapolated: "
              f"{e['run_s'] / e['epochs'] * 250:.0f} s)")
    if "rust_oja_experiment" in results:
        e = results["rust_oja_experiment"]
        print(f"(d) Oja paper experiment, Rust (plasticity fit --optimizer adam): {e['epochs']} "
              f"epochs, whole process {e['process_s']:.1f} s, peak "
              f"{e['process_peak_rss_mb']:.0f} MiB; θ_xy {e['x*y']}, θ_y²w {e['y^2*w']}")
    if "rust_flies" in results:
        e = results["rust_flies"]
        print(f"(e) fly model comparison, Rust (plasticity flies, everything): "
              f"{e['process_s']:.1f} s, peak {e['process_peak_rss_mb']:.0f} MiB")
    if "rust_flies_core" in results:
        e = results["rust_flies_core"]
        print(f"(e) per-fly fits only, Rust (--no-q-learning --no-intervals "
              f"--population-folds 0): whole process {e['process_s']:.1f} s, peak "
              f"{e['process_peak_rss_mb']:.0f} MiB")
    if "jax_flies" in results:
        e = results["jax_flies"]
        pd = ", ".join(f"{m}: {r['median_percent_deviance']:.1f} %"
                       for m, r in e["per_model"].items())
        print(f"(e) per-fly fits only, JAX f64 ({e['fits']} fits × {e['epochs']} Adam steps, "
              f"vmapped, one jitted call): run {e['run_s']:.1f} s + compile "
              f"{e['compile_s']:.1f} s (process {e['process_s']:.1f} s, peak "
              f"{e['process_peak_rss_mb']:.0f} MiB); median % deviance {pd}")
    if "rust_memory" in results:
        e = results["rust_memory"]
        print(f"memory: one 100→1000 trajectory, T = 10,000: gradient "
              f"{e['oja_gradient_f64_s']:.2f} s, peak {e['process_peak_rss_mb']:.0f} MiB")
    if "batch_gradient_speedup" in rk:
        print(f"threads, computation only (bench-kernels): gradient over "
              f"{rk['batch_gradient_trajectories']} trajectories, 1 thread "
              f"{rk['batch_gradient_1_thread_s'] * 1e3:.0f} ms, 2 threads "
              f"{rk['batch_gradient_2_threads_s'] * 1e3:.0f} ms "
              f"({rk['batch_gradient_speedup']:.2f}×), identical: {rk['batch_gradient_identical']}")
    if "rust_threads" in results:
        e = results["rust_threads"]
        print(f"threads: plasticity loss, 50 trajectories: 1 thread {e['one_s']:.2f} s, 2 threads "
              f"{e['two_s']:.2f} s ({e['speedup']:.2f}×), identical outputs: {e['identical']}")
    if "crosscheck" in results:
        c = results["crosscheck"]
        print(f"cross-check vs Rust: f64 max loss_rel {c['max_f64']['loss_rel']:.1e}, grad_rel "
              f"{c['max_f64']['grad_rel']:.1e}; f32 max loss_rel {c['max_f32']['loss_rel']:.1e}, "
              f"grad_rel {c['max_f32']['grad_rel']:.1e}")
    print(f"\nresults: {os.path.join(args.results, 'jax.json')}")


if __name__ == "__main__":
    main()
