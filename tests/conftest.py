"""Shared fixtures: the read-only MNIST folder and a local HTTP server on 127.0.0.1."""

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

# ../shared/data/mnist relative to the project root; never copied into the project.
MNIST_DIR = Path(__file__).resolve().parents[2] / "shared/data/mnist"
MNIST_NAMES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


@pytest.fixture
def mnist_dir():
    """The shared folder with the four MNIST .gz files (skips the test when absent)."""
    if not all((MNIST_DIR / f"{name}.gz").is_file() for name in MNIST_NAMES):
        pytest.skip(f"MNIST files not found in {MNIST_DIR}")
    return MNIST_DIR


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_serve():
    """``http_serve(folder)`` serves ``folder`` on 127.0.0.1 and returns its URL prefix."""
    servers = []

    def serve(folder):
        handler = functools.partial(_QuietHandler, directory=str(folder))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fake(monkeypatch):
    """Replace every sampler of the registry by a recorder; returns the dict."""
    from clihelpers import FakeSampler
    from rbmcli.sampling import bernoulli as samplers

    fakes = {name: FakeSampler(name) for name in samplers.SAMPLERS}
    for name, f in fakes.items():
        monkeypatch.setitem(samplers.SAMPLERS, name, f)
    return fakes


@pytest.fixture
def one_numba_thread(monkeypatch):
    """Run a test with one Numba thread (restored after), and RBM_THREADS=1 so that the
    commands' thread policy stays quiet: tests use tiny models, where two threads only
    add fork-join waits, badly so when other work shares the cores."""
    import numba

    monkeypatch.setenv("RBM_THREADS", "1")

    n = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(n)
