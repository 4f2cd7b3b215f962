"""Assertions and stand-ins shared by the CLI tests."""

import numpy as np

from rbmcli.sampling import bernoulli as samplers


def assert_ok(result):
    assert result.exit_code == 0, result.output
    assert result.exception is None


def assert_error(result, message, code=1):
    """Non-zero exit, exactly one ``Error:`` line (the last one), no traceback."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    errors = [line for line in lines if line.startswith("Error:")]
    assert errors == [f"Error: {message}"], result.output
    assert lines[-1] == errors[0]


class FakeSampler:
    """Stands in for a sampler and records what it was called with."""

    def __init__(self, method):
        self.method = method
        self.calls = []

    def __call__(self, model, V0, steps, rng, clamp=None, replicas=10, on_step=None,
                 burn_in=None):
        self.calls.append(dict(V0=np.array(V0), steps=steps, clamp=clamp, replicas=replicas,
                               burn_in=burn_in))
        if on_step:
            on_step(0, np.asarray(V0, np.float32))
            on_step(steps, np.asarray(V0, np.float32))
        return samplers.SampleResult(images=np.asarray(V0, np.float32),
                                     states=np.asarray(V0, np.uint8), method=self.method,
                                     steps=steps,
                                     mean=None if burn_in is None else np.array(V0, float))


def write_prototypes(path, flip, n_train, n_test, classes=4, seed=0):
    """A labelled data file of ``classes`` random 8x8 binary prototypes with a fraction
    ``flip`` of the pixels flipped: groups ``train`` and ``test`` (uint8 0/255, labels
    0..classes-1). Returns the test images and labels (for files derived from them)."""
    from rbmcli.io.datasets import write_dataset
    rng = np.random.default_rng(seed)
    protos = rng.random((classes, 64)) < 0.5

    def draw(n):
        idx = rng.integers(0, classes, n)
        bits = protos[idx] ^ (rng.random((n, 64)) < flip)
        return (bits * 255).astype(np.uint8), idx.astype(np.uint8)

    (train, train_labels), (test, test_labels) = draw(n_train), draw(n_test)
    write_dataset(path, {
        "train": {"images": train, "labels": train_labels, "image_shape": (8, 8)},
        "test": {"images": test, "labels": test_labels, "image_shape": (8, 8)}})
    return test, test_labels


def interrupted_at_call(function, n):
    """``function`` wrapped to raise KeyboardInterrupt (a Ctrl-C) on its ``n``-th call,
    calling it otherwise: to stop a training run in the middle of an epoch."""
    calls = []

    def wrapped(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return function(*args, **kwargs)
    return wrapped
