"""Class-conditional sampling of a model with label units (``rbm sample --label K|all``).

Clamping the label units of the top RBM to class ``k`` leaves a plain RBM (hidden biases
``c + U_k``, :meth:`rbmcli.models.labels.LabelledRBM.given_label`), so every sampler of
the model runs unchanged on :meth:`rbmcli.models.markov.MarkovModel.conditioned`, the model
with that RBM on top (a DBN then makes its down pass as usual). ``"all"`` runs the classes
one after another, ``n // C`` chains each (at least one), and joins them class by class:
row block k of the images is class k.
"""

import numpy as np

from rbmcli.errors import NotSupported


def describe_classes(classes):
    """``"0..9"`` for consecutive classes, else the list (``"1, 4, 7"``)."""
    classes = [int(c) for c in classes]
    if classes == list(range(classes[0], classes[0] + len(classes))):
        return f"{classes[0]}..{classes[-1]}"
    return ", ".join(str(c) for c in classes)


def class_unit(classes, label):
    """The unit index of the class value ``label`` among ``classes`` (C,);
    NotSupported (option ``label``) for a value that is not a class."""
    try:
        value = int(label)
    except (TypeError, ValueError):
        value = None
    hits = np.flatnonzero(classes == value) if value is not None else []
    if len(hits) == 0:
        raise NotSupported(f"{label}: not a class of the model ({describe_classes(classes)}, "
                           "or all)", "label")
    return int(hits[0])


def sample_classes(model, n, rng, label, on_step=None, **options):
    """``n`` images of class ``label`` (a class value), or with ``label="all"`` ``n // C``
    of every class, from ``model`` (a MarkovModel with label units); ``options`` go to
    its ``sample``.

    Returns
    -------
    rbmcli.sampling.bernoulli.SampleResult
        As the model's sampler returns it, with ``labels`` (n_images,) int64: the class
        of every image; ``attrs["label"]`` says what was asked. With ``"all"``, the PT swap
        rates are the mean over the classes, and ``on_step`` sees every class's chains
        side by side once all classes have run.
    """
    classes = model.label_layer("label").classes
    units = range(len(classes)) if label == "all" else [class_unit(classes, label)]
    per = max(1, n // len(classes)) if label == "all" else n
    results, frames = [], []
    for unit in units:
        recorded = []
        step = on_step
        if on_step is not None and len(units) > 1:
            step = lambda t, images, rec=recorded: rec.append((t, np.array(images)))  # noqa: E731
        results.append(model.conditioned(unit).sample(per, rng, on_step=step, **options))
        frames.append(recorded)
    if on_step is not None and len(units) > 1:
        for same_step in zip(*frames):
            on_step(same_step[0][0], np.concatenate([images for _, images in same_step]))
    result = results[0]
    if len(results) > 1:
        result.images = np.concatenate([r.images for r in results])
        result.states = None if result.states is None else \
            np.concatenate([r.states for r in results])
        if result.swap_acceptance is not None:
            result.swap_acceptance = np.mean([r.swap_acceptance for r in results], axis=0)
    result.labels = np.repeat(classes[list(units)], per)
    result.attrs = {**(result.attrs or {}), "label": str(label)}
    what = "every class" if label == "all" else f"class {label}"
    result.label = f"{what}, {result.label}" if result.label else what
    return result
