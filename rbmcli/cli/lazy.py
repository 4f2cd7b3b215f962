"""The command modules' lazy imports, listed in one place.

``rbm --help`` and ``rbm CMD --help`` import every command module, so those import only
Click, the standard library and light ``rbmcli`` modules (:mod:`rbmcli.errors`,
:mod:`rbmcli.progress`, :mod:`rbmcli.memory`, :mod:`rbmcli.cli.common`) at module
level. Everything heavier (NumPy, h5py, Pillow, Numba and the library modules that
import them) is reached through this module::

    from rbmcli.cli import lazy

    ds = lazy.load_dataset(spec)    # imports rbmcli.io.datasets (h5py, NumPy) now

:data:`_NAMES` is the list: name -> ``"module"`` or ``"module:attribute"``. A name is
imported on its first access (PEP 562 ``__getattr__``) and then kept in this module's
globals. The other lazy import of the CLI is :data:`rbmcli.cli.main._COMMANDS`, the
table of command modules; :mod:`rbmcli` itself loads its public names the same way.
"""

import importlib

_NAMES = {
    # third-party
    "np": "numpy",
    # data files
    "image_groups": "rbmcli.io.datasets:image_groups",
    "load_dataset": "rbmcli.io.datasets:load_dataset",
    "split_spec": "rbmcli.io.datasets:split_spec",
    "write_dataset": "rbmcli.io.datasets:write_dataset",
    "as_unit_float": "rbmcli.pixels:as_unit_float",
    "load_mnist": "rbmcli.io.mnist:load_mnist",
    "MNIST_URL": "rbmcli.io.mnist:DEFAULT_URL",
    "synthetic_digits": "rbmcli.io.synthetic:synthetic_digits",
    # pictures
    "read_png": "rbmcli.io.images:read_png",
    "save_filters": "rbmcli.io.images:save_filters",
    "save_grid": "rbmcli.io.images:save_grid",
    "GifRecorder": "rbmcli.io.animation:GifRecorder",
    "on_step_callback": "rbmcli.io.animation:on_step_callback",
    # model files and training
    "is_model_file": "rbmcli.io.modelfile:is_model_file",
    "load_model": "rbmcli.io.modelfile:load_model",
    "start_run": "rbmcli.training.recipes:start_run",
    # classification
    "classify_images": "rbmcli.scoring.classes:classify_images",
    "with_accuracy": "rbmcli.scoring.classes:with_accuracy",
    # inpainting
    "data_mask": "rbmcli.io.inpainting:data_mask",
    "load_pngs": "rbmcli.io.inpainting:load_pngs",
    "mean_image": "rbmcli.io.inpainting:mean_image",
    "panel_tiles": "rbmcli.sampling.inpainting:panel_tiles",
    "unknown_error": "rbmcli.sampling.inpainting:unknown_error",
    # sweeps (rbmcli.sweep; Dask only in rbmcli.sweep.cluster)
    "expand_sweep": "rbmcli.sweep.plan:expand",
    "read_sweep_file": "rbmcli.sweep.plan:read_sweep_file",
    "option_flags": "rbmcli.sweep.plan:option_flags",
    "sweep_statuses": "rbmcli.sweep.records:statuses",
    "SweepInputs": "rbmcli.sweep.run:SweepInputs",
    "SweepScoring": "rbmcli.sweep.run:Scoring",
    "SweepWhere": "rbmcli.sweep.cluster:Where",
    "run_sweep": "rbmcli.sweep.study:run_sweep",
    "rebuild_sweep": "rbmcli.sweep.study:rebuild",
    # threads (Numba, threadpoolctl)
    "blas_threads": "rbmcli.threads:blas_threads",
    "configure_threads": "rbmcli.threads:configure_threads",
}


def __getattr__(name):
    try:
        target = _NAMES[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    module_name, _, attribute = target.partition(":")
    value = importlib.import_module(module_name)
    if attribute:
        value = getattr(value, attribute)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_NAMES))
