"""The thread-count policy (rbmcli/threads.py)."""

import pytest

from rbmcli.threads import THREADS_ENV, choose_threads


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)


@pytest.mark.parametrize("load, expected", [(0.0, 2), (0.4, 2), (0.6, 1), (1.0, 1), (3.7, 1)])
def test_busy_cores_are_left_alone(load, expected):
    threads, reason = choose_threads(available=2, load=load)
    assert threads == expected
    assert (reason is None) == (expected == 2)


def test_reason_names_the_override():
    _, reason = choose_threads(available=8, load=3.2)
    assert reason == ("machine busy (load 3.2 on 8 cores): using 5 threads; --threads or "
                      "$RBM_THREADS overrides")


def test_request_wins_over_load_and_is_capped(monkeypatch):
    assert choose_threads(requested=2, available=2, load=5.0) == (2, None)
    assert choose_threads(requested=9, available=2, load=0.0) == (2, None)
    monkeypatch.setenv(THREADS_ENV, "1")
    assert choose_threads(available=2, load=0.0) == (1, None)


def test_configure_threads_caps_numba_and_blas():
    """--threads 1 holds for the dense BLAS products of the Gaussian RBM and the flows
    too, not only for Numba's kernels."""
    import numba
    import numpy as np  # noqa: F401  (loads the BLAS that threadpoolctl finds)
    from threadpoolctl import threadpool_info, threadpool_limits

    from rbmcli.threads import configure_threads

    before = numba.get_num_threads()
    original = threadpool_limits(limits=None)  # records the limits to restore
    try:
        configure_threads(1)
        assert numba.get_num_threads() == 1
        blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
        assert blas and all(p["num_threads"] == 1 for p in blas)
    finally:
        original.restore_original_limits()
        numba.set_num_threads(before)
