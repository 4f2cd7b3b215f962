"""What ``rbm train --model NAME`` (and :func:`rbmcli.train`) does: one registry from the
model name to its recipe, the options it takes and their defaults.

Every recipe turns the options (``params``: name -> value, the defaults included) and the
names the user typed (``given``) into a started run: :class:`rbmcli.training.run.TrainingRun`
for the RBM family (``rbm``, ``grbm``, ``dbn``) or :class:`rbmcli.flows.run.FlowTrainingRun`
for the flows (``nice``, ``realnvp``, ``glow``, ``maf``). An option that does not apply to
the chosen model raises :class:`rbmcli.errors.NotSupported` with a one-line reason.
"""

import h5py

from rbmcli.errors import InputError, NotSupported
from rbmcli.flows.model import FLOW_TYPES
from rbmcli.flows.run import FlowTrainingRun
from rbmcli.memory import default_budget, parse_size
from rbmcli.training.dbn import DBNRun
from rbmcli.training.finetune import FINE_TUNE_OPTIONS
from rbmcli.training.run import TrainingRun

RBM_FAMILY = ("rbm", "grbm", "dbn")
MODELS = RBM_FAMILY + FLOW_TYPES
"""The names of ``--model``, in the order of ``rbm train --help``."""

FLOW_ONLY = ("layers", "hidden_units", "hidden_layers", "warmup", "clip", "weight_decay",
             "patience", "holdout")
RBM_ONLY = ("hidden", "cd", "pcd", "pt", "momentum", "l2", "l1", "chains", "binarize",
            "lr_final", "momentum_warmup", "centering", "visible", "sigma", "sigma_lr",
            "sigma_init", "cd_from", "first_layer", "stack_start", "memory", "labels",
            *FINE_TUNE_OPTIONS)
_HYPER = ("hidden", "cd", "pcd", "pt", "batch_size", "lr", "lr_final", "momentum",
          "momentum_warmup", "l2", "l1", "seed", "dtype", "binarize", "chains", "centering",
          "model", "visible", "sigma", "sigma_lr", "sigma_init", "cd_from", "labels",
          "stack_start")

TRAIN_DEFAULTS = dict(
    hidden=(500,), visible="binary", first_layer=None, stack_start=None, sigma=None, sigma_init=None,
    sigma_lr=0.1, cd=None, pcd=None, pt=None, cd_from=None, epochs=None, batch_size=100,
    lr=None, lr_final=None, momentum=0.5, momentum_warmup=0, l2=0.0, l1=0.0,
    centering=None, chains=None, seed=0, dtype="float32", binarize=None,
    layers=5, hidden_units=1024, hidden_layers=1, warmup=500, clip=100.0,
    weight_decay=1e-6, patience=10, holdout=10000, memory=None, labels=False,
    fine_tune=None, fine_tune_epochs=None, fine_tune_lr=None, fine_tune_momentum=None,
    fine_tune_l2=None, fine_tune_cd=None, fine_tune_input=None)
"""Every option of ``rbm train`` (beyond the files) and its default; None: the model's
own default (``RBM_DEFAULTS`` ...). tests/test_api.py checks that the command's options
agree."""

DEFAULT_LR = {"rbm": 0.05, "grbm": 0.002, "dbn": 0.05}
FLOW_DEFAULT_LR = 1e-3
FLOW_DEFAULT_EPOCHS = 10
RBM_DEFAULTS = dict(method=("pcd", 1), epochs=100, lr_final=0.0, centering=True,
                    binarize="stochastic")
"""What `rbm train DATA` does for a Bernoulli RBM when these options are not given: the
recipe that benchmarks/quality/REPORT.md found best (centered PCD-1, learning rate
decayed linearly to 0, 100 epochs, stochastic binarisation)."""
GRBM_DEFAULTS = dict(method=("cd", 50), cd_from="noise", epochs=3, lr_final=0.0,
                     centering=False, binarize="threshold", sigma="fixed", sigma_init=0.5)
"""What `rbm train DATA --model grbm` does when these options are not given: CD-50 from
white noise with sigma fixed at 0.5 and the learning rate (0.002) decayed to 0 in 3
epochs, the recipe of benchmarks/quality/grbm.py (samples that are digits at 50 sweeps;
chains from the data or persistent chains, the old defaults, gave one blob from noise)."""
OTHER_DEFAULTS = dict(method=("cd", 1), epochs=10, lr_final=None, centering=False,
                      binarize="threshold")
DEFAULTS = {"rbm": RBM_DEFAULTS, "grbm": GRBM_DEFAULTS}


def stored_model_name(path):
    """The ``--model`` name of the model file ``path`` (``rbm``, ``grbm``, ``dbn`` or a
    flow type), or None when it is not a readable model file."""
    try:
        with h5py.File(path, "r") as f:
            model_type = f.attrs.get("model_type")
            if model_type == "flow":
                return str(f.attrs.get("flow_type"))
            return {"bernoulli-rbm": "rbm", "gaussian-rbm": "grbm", "dbn": "dbn"}.get(model_type)
    except (OSError, ValueError):
        return None


def resume_command(model, data, output, epochs):
    """The command that continues an interrupted run."""
    flag = f" --model {model}" if model in FLOW_TYPES else ""
    return f"rbm train {data or ''}{flag} -o {output} --resume --epochs {epochs}"


def start_run(model, params, given, *, data, output, resume, validate, log):
    """Start (or, with ``resume``, continue) the run of ``model`` (a name of
    :data:`MODELS`): checks the options, loads the data, makes or reads the model.

    Parameters
    ----------
    model : str
    params : dict
        Every option of ``rbm train`` by name (``hidden`` is a tuple of layer sizes).
    given : set of str
        The names among ``params`` the user typed (with ``resume`` they must agree with
        the checkpoint; the others come from it).
    data, output, resume, validate, log
        As for :meth:`rbmcli.training.run.TrainingRun.start`.

    Returns
    -------
    TrainingRun
        Its ``epochs`` and ``resume_command`` say what it will do.
    """
    if resume and "model" not in given:
        model = stored_model_name(output) or model  # continue what the file holds
    if model in FLOW_TYPES:
        return _start_flow(model, params, given, data, output, resume, validate, log)
    return _start_rbm_family(model, params, given, data, output, resume, validate, log)


def _start_flow(model, params, given, data, output, resume, validate, log):
    wrong = sorted(given & set(RBM_ONLY))
    if wrong:
        raise NotSupported("is for the RBM models, not flows", wrong[0])
    epochs = params.get("epochs") or FLOW_DEFAULT_EPOCHS
    options = dict(model=model, batch_size=params["batch_size"], seed=params["seed"],
                   dtype=params["dtype"],
                   lr=params["lr"] if "lr" in given else FLOW_DEFAULT_LR, epochs=epochs,
                   **{name: params[name] for name in FLOW_ONLY})
    run = FlowTrainingRun.start(data=data, output=output, resume=resume, given=given,
                                options=options, validate=validate, log=log)
    run.resume_command = resume_command(model, data, output, epochs)
    return run


def _start_rbm_family(model_kind, params, given, data, output, resume, validate, log):
    flow_given = [name for name in FLOW_ONLY if name in given]
    if flow_given:
        raise NotSupported("is for flow models (--model nice|realnvp|glow|maf)", flow_given[0])
    methods = [(name, params[name]) for name in ("cd", "pcd", "pt") if params.get(name)]
    if len(methods) > 1:
        raise NotSupported("choose one of --cd, --pcd, --pt")
    hyper = {name for name in _HYPER if name in given}
    defaults = DEFAULTS.get(model_kind, OTHER_DEFAULTS)
    method, steps = methods[0] if methods else defaults["method"]
    cd_from = params.get("cd_from")
    if cd_from is None:  # the default method brings its own start; a typed --cd: the data
        cd_from = "data" if methods else defaults.get("cd_from", "data")
    if cd_from != "data" and method != "cd":
        raise NotSupported("is for --cd", "cd_from")
    sigma = params.get("sigma") or defaults.get("sigma", "learn")
    sigma_init = params.get("sigma_init")
    sigma_init = sigma_init if sigma_init is not None else defaults.get("sigma_init", 1.0)
    epochs = params.get("epochs") or defaults["epochs"]
    lr_final = params.get("lr_final") if "lr_final" in hyper else defaults["lr_final"]
    centering = params.get("centering")
    centering = defaults["centering"] if centering is None else centering
    binarize = params.get("binarize") or defaults["binarize"]
    options = _model_options(model_kind, params["hidden"], params["visible"], sigma,
                             params["sigma_lr"], sigma_init, hyper, resume)
    first_layer = params.get("first_layer")
    if first_layer is not None:
        if model_kind != "dbn":
            raise NotSupported("is for --model dbn", "first_layer")
        if resume:
            raise NotSupported("starts a DBN; --resume continues one", "first_layer")
        options["first_layer"] = first_layer
    lr = params.get("lr")
    options.update(method=method, steps=steps, epochs=epochs,
                   batch_size=params["batch_size"],
                   lr=lr if lr is not None else DEFAULT_LR[model_kind], lr_final=lr_final,
                   momentum=params["momentum"], momentum_warmup=params["momentum_warmup"],
                   l2=params["l2"], l1=params["l1"], centering=centering, seed=params["seed"],
                   dtype=params["dtype"], chains=params.get("chains") or 0, cd_from=cd_from)
    if model_kind != "grbm":
        options["binarize"] = binarize
    if params.get("labels"):
        if model_kind == "grbm":
            raise NotSupported("is for --model rbm and --model dbn (its top layer)", "labels")
        if method == "pt":
            raise NotSupported("trains by --cd or --pcd, not --pt", "labels")
    if "labels" in hyper or (params.get("labels") and not resume):
        options["labels"] = bool(params.get("labels"))
    options.update(_stack_start(model_kind, params, hyper, resume))
    options.update(_fine_tune_options(model_kind, params, given, epochs))
    run_class = DBNRun if model_kind == "dbn" else TrainingRun
    run = run_class.start(data=data, output=output, resume=resume, given=hyper,
                          options=options, validate=validate, log=log,
                          memory=memory_budget(params.get("memory")))
    run.resume_command = resume_command(model_kind, data, output, epochs)
    return run


def _stack_start(model_kind, params, given, resume):
    """``stack_start`` of a DBN: as typed, else for a new run ``random`` with --labels
    (the start that classifies better) and ``flipped`` without (the start of the
    likelihood bound); on --resume the checkpoint's unless typed."""
    start = params.get("stack_start")
    if model_kind != "dbn":
        if start is not None:
            raise NotSupported("is for --model dbn", "stack_start")
        return {}
    if resume:
        return {"stack_start": start} if "stack_start" in given else {}
    return {"stack_start": start or ("random" if params.get("labels") else "flipped")}


def memory_budget(memory):
    """Bytes of the training budget ``--memory`` (a size such as ``"64M"`` or bytes; None:
    :func:`rbmcli.memory.default_budget`), or None for no limit."""
    if memory is None:
        return default_budget()
    try:
        return parse_size(memory)
    except ValueError as err:
        raise InputError(str(err), "memory") from None


def _fine_tune_options(model_kind, params, given, epochs):
    """``fine_tune`` and ``fine_tune_epochs`` (default: ``epochs``) for a DBN, and
    ``fine_tune_lr``, ``fine_tune_momentum``, ``fine_tune_l2``, ``fine_tune_cd``,
    ``fine_tune_input`` when typed (otherwise the options' defaults, or on --resume the
    run's own); all only when any of them was typed; NotSupported for another model, for
    any of them without a method and for ``fine_tune_cd`` or ``fine_tune_input`` without
    up-down."""
    typed = [name for name in FINE_TUNE_OPTIONS if name in given]
    if not typed:
        return {}
    if model_kind != "dbn":
        raise NotSupported("is for --model dbn", typed[0])
    if not params.get("fine_tune"):
        raise NotSupported("needs --fine-tune up-down or backprop", typed[0])
    out = {"fine_tune": params["fine_tune"],
           "fine_tune_epochs": params.get("fine_tune_epochs") or epochs}
    for name in ("fine_tune_cd", "fine_tune_input"):
        if name in given and params["fine_tune"] != "up-down":
            raise NotSupported("is for --fine-tune up-down", name)
    for name in ("fine_tune_lr", "fine_tune_momentum", "fine_tune_l2", "fine_tune_cd",
                 "fine_tune_input"):
        if name in given:   # only what was typed: a resumed run keeps its other settings
            out[name] = list(params[name]) if name == "fine_tune_cd" else params[name]
    return out


def _model_options(model_kind, hidden, visible, sigma, sigma_lr, sigma_init, given, resume):
    """The options that depend on the model; NotSupported for options of another model.
    With ``resume``, the options not typed come from the checkpoint."""
    options = {"model": model_kind}
    if not resume or "hidden" in given:
        if model_kind == "dbn" and len(hidden) < 2:
            raise NotSupported("--model dbn needs two or more layer sizes, e.g. --hidden "
                               "500,500,2000")
        if model_kind != "dbn" and len(hidden) > 1:
            raise NotSupported("--hidden H1,H2,...: a list of layer sizes is for --model dbn")
        options["n_hidden"] = hidden[0]
        if model_kind == "dbn":
            options["hidden_sizes"] = list(hidden)
    if model_kind != "dbn" and "visible" in given:
        raise NotSupported("is for --model dbn", "visible")
    gaussian = model_kind == "grbm" or (model_kind == "dbn" and visible == "gaussian")
    if gaussian and "centering" in given:
        raise NotSupported("is for binary visible units, not --model grbm or --visible "
                           "gaussian", "centering")
    if not gaussian and ({"sigma", "sigma_lr", "sigma_init"} & given):
        raise NotSupported("--sigma, --sigma-lr and --sigma-init are for Gaussian visible "
                           "units (--model grbm, or --model dbn --visible gaussian)")
    if not resume and gaussian:
        options.update(sigma=sigma, sigma_lr=sigma_lr, sigma_init=sigma_init)
    if not resume and model_kind == "dbn":
        options["visible"] = visible
    typed = {"sigma": sigma, "sigma_lr": sigma_lr, "sigma_init": sigma_init,
             "visible": visible}
    options.update({name: value for name, value in typed.items() if name in given})
    return options
