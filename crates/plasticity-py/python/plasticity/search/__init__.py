"""Asynchronous, model-based search (Optuna) over the keys of a ``plasticity run``
experiment file: ``python -m plasticity.search SEARCH.toml --out DIR --workers N``
or ``plasticity-search``. Needs the ``search`` extra (``pip install
'plasticity[search]'``) and the ``plasticity`` command; see docs/search.md.

Modules: `spec` (the search file), `experiment` (a trial's experiment, run and
objective), `storage` (the study, the lock, recovering dead workers' trials),
`worker` (the ask-run-tell loop), `outputs` (trials.csv, best.toml, figures)."""

from .errors import SearchError
from .spec import Parameter, SearchSpec, load

__all__ = ["Parameter", "SearchError", "SearchSpec", "load"]
