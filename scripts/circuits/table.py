"""Collects the fits of scripts/circuits/acceptance.sh, or the cells of a circuit run
(`plasticity run experiments/recurrent.toml --out RUN`), into table.csv and table.md:
    python3 scripts/circuits/table.py OUT_OR_RUN
(a run's own table.csv is left alone: this writes fits.csv and fits.md there).

For each fit: wall time, final loss against the loss at the generating rules, R² of
weights per projection as 1 − R² (all synapses, and onto latent neurons), the rule output error
per rule, the largest feed-forward coefficient error over the Oja terms and over the
others, the largest recurrent error over its generating terms, and the largest share of
any non-generating recurrent term in the rule's output.
"""
import json
import pathlib
import sys

OJA = {"x*y", "y^2*w"}
RECURRENT = {"x*y", "x", "y", "1", "w"}


def one_minus(value):
    return None if value is None else 1.0 - value


def row(cell: pathlib.Path) -> dict:
    if (cell / "result.json").exists():
        # a cell of `plasticity run`: its fit's results and wall time inside
        result = json.loads((cell / "result.json").read_text())
        return row_of(result["results"], float(result["seconds"]))
    results = json.loads((cell / "fit" / "results.json").read_text())
    seconds = float((cell / "seconds").read_text()) if (cell / "seconds").exists() else float("nan")
    return row_of(results, seconds)


def row_of(results: dict, seconds: float) -> dict:
    metrics = results["metrics"]
    meta = results["data"]["metadata"]
    errors = metrics["coefficient_error"]
    ff = {k.split(".", 1)[1]: abs(v) for k, v in errors.items() if k.startswith("feedforward.")}
    rec = {k.split(".", 1)[1]: abs(v) for k, v in errors.items() if k.startswith("recurrent.")}
    shares = metrics["term_share"].get("recurrent", {})
    return {
        "noise_std": meta["noise_std"],
        "recording_fraction": meta.get("recording_fraction", 1.0),
        "seconds": round(seconds, 1),
        "evaluations": results["evaluations"],
        "final_loss": metrics["final_loss"],
        "loss_at_generating_rule": metrics["loss_at_generating_rule"],
        "1-r2_ff": one_minus(metrics["r2_weights_by_projection"].get("feedforward")),
        "1-r2_rec": one_minus(metrics["r2_weights_by_projection"].get("recurrent")),
        "1-r2_ff_latent": one_minus(metrics["r2_weights_latent"].get("feedforward")),
        "1-r2_rec_latent": one_minus(metrics["r2_weights_latent"].get("recurrent")),
        "rule_error_ff": metrics["rule_output_error"].get("feedforward"),
        "rule_error_rec": metrics["rule_output_error"].get("recurrent"),
        "ff_oja_error": max(ff[t] for t in OJA),
        "ff_other_max": max(v for t, v in ff.items() if t not in OJA),
        "rec_generating_error": max(rec[t] for t in RECURRENT),
        "rec_other_share_max": max((v for t, v in shares.items() if t not in RECURRENT), default=None),
        "latent_correlation": metrics["latent_recorded_correlation"].get("y"),
    }


def main() -> None:
    out = pathlib.Path(sys.argv[1])
    run = (out / "cells").is_dir()
    cells = sorted((out / "cells").iterdir()) if run else sorted(out.iterdir())
    done = lambda c: (c / "result.json").exists() or (c / "fit" / "results.json").exists()
    rows = [row(c) for c in cells if done(c)]
    stem = "fits" if run else "table"
    rows.sort(key=lambda r: (r["noise_std"], -r["recording_fraction"]))
    keys = list(rows[0].keys())
    # losses to 4 digits: the noisy fits are compared with the loss at the truth
    digits = lambda k: 4 if k in ("final_loss", "loss_at_generating_rule") else 3
    fmt = lambda v, k="": "" if v is None else (f"{v:.{digits(k)}g}" if isinstance(v, float) else str(v))
    (out / f"{stem}.csv").write_text(
        ",".join(keys) + "\n" + "".join(",".join(fmt(r[k], k) for k in keys) + "\n" for r in rows)
    )
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(fmt(r[k], k) for k in keys) + " |" for r in rows]
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
