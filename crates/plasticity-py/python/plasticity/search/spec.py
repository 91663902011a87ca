"""The search file (``searches/*.toml``, described in docs/search.md): which
experiment, which of its keys vary over which ranges, what is optimised, for how
long, by which sampler, from which seed. Parsed into a `SearchSpec`; every mistake
is a `SearchError` naming the file, the line and the key."""

from __future__ import annotations

import dataclasses
import math
import pathlib
import re
from typing import Any, Dict, List, Optional, Tuple

from . import toml_io
from .errors import SearchError, locate_key

SAMPLERS = ("tpe", "random", "gp", "cmaes")
DIRECTIONS = ("minimize", "maximize")
AGGREGATES = ("mean", "median", "min", "max")
PARAMETER_TYPES = ("float", "int", "categorical")

_TOP_KEYS = ("experiment", "seed", "keep_seeds", "title", "objective", "budget", "sampler", "parameters")
_SECTION_KEYS = {
    "objective": ("metric", "direction", "aggregate"),
    "budget": ("trials", "wall_time"),
    "sampler": ("name", "startup_trials"),
}
_PARAMETER_KEYS = {
    "float": ("type", "low", "high", "log", "step"),
    "int": ("type", "low", "high", "log", "step"),
    "categorical": ("type", "choices"),
}


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One varied key of the experiment file (``section.key``) and its range."""

    key: str
    type: str
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    step: Optional[float] = None
    choices: Tuple[Any, ...] = ()

    def distribution(self) -> Any:
        """The Optuna distribution of this range."""
        import optuna.distributions as d

        if self.type == "float":
            return d.FloatDistribution(self.low, self.high, log=self.log, step=self.step)
        if self.type == "int":
            step = int(self.step) if self.step is not None else 1
            return d.IntDistribution(int(self.low), int(self.high), log=self.log, step=step)
        return d.CategoricalDistribution(list(self.choices))

    def extremes(self) -> List[Any]:
        """The values a check of the experiment tries: both ends, or every choice."""
        if self.type == "categorical":
            return list(self.choices)
        cast = int if self.type == "int" else float
        return [cast(self.low), cast(self.high)]


@dataclasses.dataclass(frozen=True)
class SearchSpec:
    """A parsed search file."""

    path: pathlib.Path
    text: str
    experiment: pathlib.Path
    parameters: Tuple[Parameter, ...]
    metric: str
    direction: str
    aggregate: str
    trials: int
    wall_time_s: Optional[float]
    sampler: str
    startup_trials: Optional[int]
    seed: int
    keep_seeds: Tuple[str, ...]
    title: str

    def error(self, message: str, *keys: str) -> SearchError:
        """A `SearchError` at the key path `keys` of this file (line located)."""
        return _error(self.path, self.text, message, keys)


def load(path: "str | pathlib.Path") -> SearchSpec:
    """Parse and check the search file at `path`."""
    path = pathlib.Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SearchError(f"cannot read the search file: {error.strerror or error}", path)
    try:
        document = toml_io.loads(text)
    except toml_io.TOMLDecodeError as error:
        line = getattr(error, "lineno", None)
        raise SearchError(f"not valid TOML: {error}", path, line=line)
    return _parse(path, text, document)


def _error(path: pathlib.Path, text: str, message: str, keys: Tuple[str, ...]) -> SearchError:
    shown = ".".join(keys) if keys else None
    return SearchError(message, path, shown, locate_key(text, keys) if keys else None)


def _parse(path: pathlib.Path, text: str, document: Dict[str, Any]) -> SearchSpec:
    def fail(message: str, *keys: str) -> SearchError:
        return _error(path, text, message, keys)

    _known(document, _TOP_KEYS, fail, ())
    for section, keys in _SECTION_KEYS.items():
        value = document.get(section, {})
        if not isinstance(value, dict):
            raise fail(f"must be a table [{section}]", section)
        _known(value, keys, fail, (section,))

    experiment = document.get("experiment")
    if not isinstance(experiment, str) or not experiment:
        raise fail("the base experiment file (a path relative to this file) is required", "experiment")
    experiment_path = (path.parent / experiment).resolve()
    if not experiment_path.is_file():
        raise fail(f"no experiment file at {experiment_path}", "experiment")

    seed = document.get("seed", 0)
    if not _is_int(seed) or not 0 <= seed < 2**63:
        raise fail(f"must be an integer ≥ 0, got {seed!r}", "seed")

    keep_seeds = document.get("keep_seeds", [])
    if not isinstance(keep_seeds, list) or not all(isinstance(k, str) for k in keep_seeds):
        raise fail(f"must be a list of the experiment's seed keys, e.g. [\"simulate.seed\"]; got {keep_seeds!r}", "keep_seeds")

    objective = document.get("objective", {})
    metric = objective.get("metric")
    if not isinstance(metric, str) or not metric:
        raise fail(
            "the metric to optimise is required: a key of the metrics in the trial's "
            "results.json, e.g. \"final_loss\" or \"r2_weights\"",
            "objective", "metric",
        )
    direction = _choice(objective, "direction", DIRECTIONS, "minimize", fail, "objective")
    aggregate = _choice(objective, "aggregate", AGGREGATES, "mean", fail, "objective")

    budget = document.get("budget", {})
    trials = budget.get("trials")
    if not _is_int(trials) or trials < 1:
        raise fail(f"the number of trials is required, an integer ≥ 1; got {trials!r}", "budget", "trials")
    wall_time_s = None
    if "wall_time" in budget:
        wall_time_s = parse_duration(budget["wall_time"])
        if wall_time_s is None:
            raise fail(
                f"a number of seconds > 0 or a duration like \"90m\", \"2h\" or "
                f"\"01:30:00\"; got {budget['wall_time']!r}",
                "budget", "wall_time",
            )

    sampler_table = document.get("sampler", {})
    sampler = _choice(sampler_table, "name", SAMPLERS, "tpe", fail, "sampler")
    startup = sampler_table.get("startup_trials")
    if startup is not None and (not _is_int(startup) or startup < 0):
        raise fail(f"must be an integer ≥ 0, got {startup!r}", "sampler", "startup_trials")

    parameters = _parameters(document.get("parameters"), fail)
    title = document.get("title", path.stem)
    if not isinstance(title, str):
        raise fail(f"must be a string, got {title!r}", "title")
    return SearchSpec(
        path=path.resolve(),
        text=text,
        experiment=experiment_path,
        parameters=parameters,
        metric=metric,
        direction=direction,
        aggregate=aggregate,
        trials=int(trials),
        wall_time_s=wall_time_s,
        sampler=sampler,
        startup_trials=startup,
        seed=int(seed),
        keep_seeds=tuple(keep_seeds),
        title=title,
    )


def _parameters(table: Any, fail: Any) -> Tuple[Parameter, ...]:
    if not isinstance(table, dict) or not table:
        raise fail(
            "at least one parameter is required: [parameters] \"section.key\" = "
            "{ type = \"float\", low = …, high = … }",
            "parameters",
        )
    parsed = []
    for key, spec in table.items():
        where = ("parameters", key)
        if not re.fullmatch(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)?", key):
            raise fail("a parameter is a key of the experiment file, `section.key` (e.g. fit.learning_rate)", *where)
        if key.split(".")[-1] in ("seed", "input_seed"):
            raise fail("seeds are set by the search (from its seed and the trial number), not searched", *where)
        if not isinstance(spec, dict):
            raise fail("must be a table { type = …, … }", *where)
        kind = spec.get("type")
        if kind not in PARAMETER_TYPES:
            raise fail(f"`type` must be one of {', '.join(PARAMETER_TYPES)}; got {kind!r}", *where, "type")
        _known(spec, _PARAMETER_KEYS[kind], fail, where)
        parsed.append(_range(key, kind, spec, fail, where))
    return tuple(parsed)


def _range(key: str, kind: str, spec: Dict[str, Any], fail: Any, where: Tuple[str, ...]) -> Parameter:
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise fail("a non-empty list of choices is required", *where, "choices")
        for choice in choices:
            if not isinstance(choice, (str, int, float, bool)):
                raise fail(f"choices are strings, numbers or booleans; got {choice!r}", *where, "choices")
        return Parameter(key, kind, choices=tuple(choices))
    number = _is_int if kind == "int" else _is_number
    for bound in ("low", "high"):
        if not number(spec.get(bound)):
            raise fail(f"{'an integer' if kind == 'int' else 'a number'} is required; got {spec.get(bound)!r}", *where, bound)
    low, high = spec["low"], spec["high"]
    if not low <= high:
        raise fail(f"must be ≥ low ({low}); got {high}", *where, "high")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise fail(f"must be true or false; got {log!r}", *where, "log")
    if log and low <= 0:
        raise fail(f"a log range needs low > 0; got {low}", *where, "low")
    step = spec.get("step")
    if step is not None:
        if not number(step) or step <= 0:
            raise fail(f"must be a positive {'integer' if kind == 'int' else 'number'}; got {step!r}", *where, "step")
        if log and (kind == "float" or step != 1):
            raise fail("a log range takes no step", *where, "step")
    return Parameter(key, kind, low=low, high=high, log=log, step=step)


def _known(table: Dict[str, Any], known: Tuple[str, ...], fail: Any, where: Tuple[str, ...]) -> None:
    for key in table:
        if key not in known:
            raise fail(f"unknown key; known: {', '.join(known)}", *where, key)


def _choice(table: Dict[str, Any], key: str, allowed: Tuple[str, ...], default: str, fail: Any, section: str) -> str:
    value = table.get(key, default)
    if value not in allowed:
        raise fail(f"must be one of {', '.join(allowed)}; got {value!r}", section, key)
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def parse_duration(value: Any) -> Optional[float]:
    """Seconds from a number, ``"90s"``/``"30m"``/``"2h"``/``"1d"`` or ``"[D-]HH:MM:SS"``;
    None when `value` is none of these or not positive."""
    seconds: Optional[float] = None
    if _is_number(value):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        unit = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd])", text)
        clock = re.fullmatch(r"(?:(\d+)-)?(\d+):(\d{1,2}):(\d{1,2})", text)
        if unit:
            seconds = float(unit.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit.group(2)]
        elif clock:
            days, hours, minutes, secs = (int(g or 0) for g in clock.groups())
            seconds = float(((days * 24 + hours) * 60 + minutes) * 60 + secs)
    return seconds if seconds is not None and seconds > 0 else None
