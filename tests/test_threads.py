"""The thread-count policy (rbmcli/threads.py)."""

import os
import subprocess
import sys

import pytest

from rbmcli import threads
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


@pytest.mark.parametrize("idle, expected", [(1.0, 2), (0.8, 2), (0.5, 1), (0.3, 1), (0.0, 1)])
def test_threads_follow_the_idle_cores_now(monkeypatch, idle, expected):
    """Two cores, one of them busy with other work (idle 0.5): one thread; a run that
    ended seconds ago (a high load average, idle cores now) no longer counts."""
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 2)
    count, reason = choose_threads(available=2, idle=idle)
    assert count == expected
    assert (reason is None) == (expected == 2)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (1.9, 1.0, 0.5))
    monkeypatch.setattr(threads, "idle_fraction", lambda: idle)
    assert choose_threads(available=2) == (count, reason)


def test_reason_for_idle_sample(monkeypatch):
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 8)
    _, reason = choose_threads(available=8, idle=0.6)
    assert reason == ("machine busy (3.2 of 8 cores busy just now): using 5 threads; "
                      "--threads or $RBM_THREADS overrides")


def test_load_average_where_there_is_no_proc_stat(monkeypatch, tmp_path):
    assert threads.idle_fraction(0, path=str(tmp_path / "missing")) is None
    monkeypatch.setattr(threads, "idle_fraction", lambda: None)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (1.2, 0.0, 0.0))
    assert choose_threads(available=2)[0] == 1


def test_cpu_times_reads_all_cores(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 5 50 800 20 1 2 3 0 0\ncpu0 50 2 25 400 10 0 1 1 0 0\n")
    assert threads._cpu_times(str(stat)) == (820, 981)


@pytest.mark.parametrize("preset, expected", [(None, "4"), ("12", "12")])
def test_openblas_threads_sleep_after_each_product_unless_the_user_says(preset, expected):
    """``import rbmcli`` sets OPENBLAS_THREAD_TIMEOUT=4 before NumPy loads OpenBLAS (its
    spinning threads slowed mixed NumPy/Numba epochs 2.6x on 2 cores), and keeps a value
    already in the environment."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    if preset is not None:
        env["OPENBLAS_THREAD_TIMEOUT"] = preset
    out = subprocess.run([sys.executable, "-c", "import rbmcli, os, sys; "
                          "print(os.environ['OPENBLAS_THREAD_TIMEOUT'], 'numpy' in sys.modules)"],
                         env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out == [expected, "False"]
