#!/usr/bin/env python3
"""The acceptance table of scripts/spiking/acceptance.sh from each run's results.json."""
import json
import pathlib
import sys

out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/spiking-acceptance")
print("| run | A+ error | A− error | largest spurious effect | LL over generating (nats) | K | R² open (changes) | R² closed (changes) | condition number | fit s |")
print("|---|---|---|---|---|---|---|---|---|---|")
for path in sorted(out.glob("*/results.json"), key=lambda p: (p.parent.name.split("-")[0], int(p.parent.name.split("-")[1]), p.parent.name)):
    r = json.loads(path.read_text())
    m = r["metrics"]
    by = {c["name"].split(".", 1)[1]: c for c in m["coefficients"]}
    plus, minus = by["s_post*x_trace"], by["s_pre*y_trace"]
    spurious = [c["relative_effect"] for c in m["coefficients"] if not c["generating"]]
    ident = r.get("identifiability", {})
    cond = ident.get("condition_number")
    print(
        f"| {path.parent.name} | {100*plus['relative_error']:.1f} % | {100*minus['relative_error']:.1f} % | "
        f"{max(spurious):.3f} | " if spurious else f"| {path.parent.name} | {100*plus['relative_error']:.1f} % | {100*minus['relative_error']:.1f} % | – | ",
        end="",
    )
    print(
        f"{m['log_likelihood_over_generating']:.1f} | {len(m['coefficients'])} | "
        f"{m['r2_open_loop']:.4f} ({m['r2_changes_open_loop']:.4f}) | {m['r2_closed_loop']:.4f} ({m['r2_changes_closed_loop']:.4f}) | "
        f"{cond if cond is None else f'{cond:.3g}'} | {r['seconds']:.1f} |"
    )
