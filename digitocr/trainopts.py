"""``digitocr train``'s options per backend, and what they make: a ``TrainConfig`` for a
classifier, a ``StringTrainConfig`` for a string reader.

``train``'s own options (cli.py) are the ones every backend of a kind shares. A backend adds
its own, claims options from other backends' refusal, and turns what it was given into its
options through ``register_training_options``: ``register(backend, TrainingOptions(...))``.
The built-in ``cnn`` declares ``--pairs``, ``--non-digits`` and ``--init``; ``ensemble``
declares ``--members`` and ``--member``. Importing this module loads no plugin: the command
asks for the declared options when it parses or prints its help (``with_backend_params``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import click

from .errors import PluginError

if TYPE_CHECKING:
    from .strtrain import StringTrainConfig
    from .training import TrainConfig

#: ``train``'s options for networks (by parameter name); a backend that declares no options
#: refuses them, a network's ``build`` passes them on
NETWORK_OPTIONS = ("epochs", "batch_size", "rotation", "shift", "zoom", "arch", "lr_schedule",
                   "patience", "lr")
#: the model a string reader fine-tunes unless ``--init`` names another (``none``: scratch)
STRING_INIT = "crnn"


@dataclass(frozen=True)
class TrainRequest:
    """What ``train BACKEND`` was given, for the backend's ``TrainingOptions.build``."""

    backend: str
    #: every option of ``train`` by parameter name (``init_model``, ``pairs``...), as parsed
    values: Mapping[str, Any]
    #: the network options given (``NETWORK_OPTIONS``; those not given are left out)
    network: dict[str, Any]
    #: ``--set KEY=VALUE``'s pairs, each value parsed as JSON where it is JSON
    settings: dict[str, Any]


def settings_only(request: TrainRequest) -> dict[str, Any]:
    """The options of a backend that declares no ``build``: ``--set``'s; network options are
    refused (they would be dropped without a word)."""
    if request.network:
        raise click.UsageError(f"{', '.join(request.network)} only apply to networks, "
                               f"not {request.backend}")
    return dict(request.settings)


@dataclass(frozen=True)
class TrainingOptions:
    """A backend's own part of ``digitocr train`` (``register_training_options``)."""

    #: Click options the backend adds to ``train``, each list shown in ``--help`` after the
    #: option of that parameter name (an unknown name: at the end); a name already taken by
    #: ``train`` or another backend is not added again
    params: Mapping[str, Sequence[click.Parameter]] = field(default_factory=dict)
    #: ``train``'s options (by parameter name) that this backend alone takes, each with the
    #: error another backend gives when it is given a value
    takes: Mapping[str, str] = field(default_factory=dict)
    #: the backend's options (``Classifier(**options)``) from what ``train`` was given
    build: Callable[[TrainRequest], dict[str, Any]] = settings_only


def declared() -> dict[str, TrainingOptions]:
    """Every backend's ``TrainingOptions``, by backend name."""
    from .plugins import get_training_options

    out = get_training_options()
    for name, options in out.items():
        if not isinstance(options, TrainingOptions):
            raise PluginError(f"the training options registered for {name!r} are a "
                              f"{type(options).__name__}, not a digitocr.trainopts."
                              "TrainingOptions")
    return out


def with_backend_params(params: Sequence[click.Parameter]) -> list[click.Parameter]:
    """``params`` (``train``'s own, its help option last) with the backends' declared options
    inserted after the options they name."""
    out = list(params)
    taken = {p.name for p in out}
    for options in declared().values():
        for after, extra in options.params.items():
            names = [p.name for p in out]
            at = names.index(after) + 1 if after in names else len(out) - 1
            for p in extra:
                if p.name not in taken:
                    out.insert(at, p)
                    taken.add(p.name)
                    at += 1
    return out


def parse_set(values: Iterable[str]) -> dict[str, Any]:
    """``--set KEY=VALUE`` pairs as a dict, each value JSON where it parses as JSON."""
    out: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--set")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def classifier_config(backend: str, values: Mapping[str, Any]) -> TrainConfig:
    """The ``TrainConfig`` of ``train BACKEND`` for a classifier, its options built by the
    backend; a ``click.UsageError`` for an option the backend does not take."""
    from .plugins import get_classifiers
    from .training import TrainConfig

    if values.get("alphabet") is not None:
        raise click.UsageError("--alphabet only applies to string readers (crnn)")
    if backend not in get_classifiers():
        names = ", ".join(sorted(get_classifiers()))
        raise click.BadParameter(f"unknown backend {backend!r} (one of: {names})",
                                 param_hint="BACKEND")
    every = declared()
    own = every.get(backend, TrainingOptions())
    for other, theirs in every.items():
        for name, refusal in theirs.takes.items():
            if other != backend and name not in own.takes and values.get(name):
                raise click.UsageError(refusal)
    network = {k: values[k] for k in NETWORK_OPTIONS if values.get(k) is not None}
    settings = parse_set(values.get("settings") or ())
    options = own.build(TrainRequest(backend, values, network, settings))
    # the rest of train's options that are TrainConfig's fields (--pairs, --member...) as given
    given: dict[str, Any] = {f.name: list(values[f.name]) if isinstance(values[f.name], tuple)
             else values[f.name] for f in fields(TrainConfig)
             if f.name in values and f.name not in ("backend", "out", "options")}
    return TrainConfig(backend=backend, out=values.get("out") or f"runs/{backend}",
                       options=options, **given)


def string_config(backend: str, values: Mapping[str, Any]) -> StringTrainConfig:
    """The ``StringTrainConfig`` of ``train BACKEND`` for a string reader."""
    from .strtrain import StringTrainConfig

    data = values.get("data")
    if not data:
        raise click.UsageError("a string reader trains on --data DIR (images + labels.csv)")
    init = values.get("init_model") or STRING_INIT
    return StringTrainConfig(
        backend=backend, data=data, out=values.get("out") or f"runs/{backend}",
        val=values.get("val_dir"), val_split=values["val_split"],
        init="" if init == "none" else init, epochs=values.get("epochs") or 3,
        batch_size=values.get("batch_size") or 32, learning_rate=values.get("lr") or 5e-4,
        seed=values["seed"], copies=values["copies"], synthetic=values["synthetic"],
        jitter=values["jitter"],
        limit=values.get("limit"), force=values["force"], alphabet=values.get("alphabet"))
