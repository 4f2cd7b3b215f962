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
