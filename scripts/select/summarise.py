"""One row of the model-selection acceptance table from a selection.json.

usage: summarise.py DIR RULE GENERATING_TERMS SECONDS
Columns: rule, generating set, its rank by held-out deviance, within the default
tolerance (2 units), size of the equivalence set, best set, difference from the best
and its paired SE, within 1 paired SE, its rank by AIC and by BIC, seconds.
"""
import json
import sys

d, rule, generating, seconds = sys.argv[1:]
s = json.load(open(f"{d}/selection.json"))
want = sorted(generating.split(","))
cands = s["candidates"]
row = next(c for c in cands if sorted(c["terms"]) == want)
def rank_by(key):
    order = sorted(cands, key=lambda c: (c[key], len(c["terms"])))
    return 1 + next(i for i, c in enumerate(order) if sorted(c["terms"]) == want)
within_se = row["difference_from_best"] <= row["difference_se"]
print(f"{rule}|{{{', '.join(row['terms'])}}}|{row['rank']}|{row['within_tolerance']}|"
      f"{len(s['equivalent'])}|{{{', '.join(s['best'])}}}|"
      f"{row['difference_from_best']:.2f} ± {row['difference_se']:.2f}|{within_se}|"
      f"{rank_by('aic')}|{rank_by('bic')}|{float(seconds):.0f}")
