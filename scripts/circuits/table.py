"""Collects the fits of scripts/circuits/acceptance.sh into table.csv and table.md.

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
    results = json.loads((cell / "fit" / "results.json").read_text())
    metrics = results["metrics"]
    meta = results["data"]["metadata"]
    errors = metrics["coefficient_error"]
    ff = {k.split(".", 1)[1]: abs(v) for k, v in errors.items() if k.startswith("feedforward.")}
    rec = {k.split(".", 1)[1]: abs(v) for k, v in errors.items() if k.startswith("recurrent.")}
    shares = metrics["term_share"].get("recurrent", {})
    seconds = float((cell / "seconds").read_text()) if (cell / "seconds").exists() else float("nan")
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
    rows = [row(c) for c in sorted(out.iterdir()) if (c / "fit" / "results.json").exists()]
    rows.sort(key=lambda r: (r["noise_std"], -r["recording_fraction"]))
    keys = list(rows[0].keys())
    fmt = lambda v: "" if v is None else (f"{v:.3g}" if isinstance(v, float) else str(v))
    (out / "table.csv").write_text(
        ",".join(keys) + "\n" + "".join(",".join(fmt(r[k]) for k in keys) + "\n" for r in rows)
    )
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(fmt(r[k]) for k in keys) + " |" for r in rows]
    (out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
