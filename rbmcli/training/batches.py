"""Where a trainer's mini-batches come from: the training rows in memory, or streamed from
their data file in shuffled chunks when they do not fit the ``--memory`` budget.

One scheme serves both. An epoch reads the data as *buffers*; each buffer's rows are
shuffled by the trainer's generator (``rng.permutation``), cut into batches of
``batch_size`` rows (each batch's indices sorted), and the rows left over (fewer than a
batch) are carried into the next buffer, so every batch but the epoch's last is full
and every row is drawn exactly once per epoch (:func:`buffer_batches`).

* In memory (:class:`MemoryRows`): one buffer, every row; this is the plain shuffled epoch.
* Streamed (:class:`StreamedRows`): the file's rows are cut into *chunks* of
  ``chunk_rows`` contiguous rows (the last one shorter), each read with one HDF5 slice.
  Each epoch permutes the chunks with ``numpy.random.default_rng([seed, CHUNK_STREAM,
  epoch])``, so the order follows from the seed and the epoch alone (``--resume`` repeats
  it), and takes them ``buffer_chunks`` at a time (read in file order) into a buffer.
  This is not a full shuffle: a batch holds rows of at most ``buffer_chunks`` chunks plus
  the carried rows.

The budget counts the bytes of training rows held at once: the rows as read from the
file plus the copy training makes of them (threshold bits, or a Gaussian RBM's
standardised floats): :func:`plan_stream`.
"""

from dataclasses import dataclass

import numpy as np

from rbmcli.errors import InputError
from rbmcli.memory import size_text
from rbmcli.pixels import as_unit_float

CHUNK_STREAM = 23
"""``numpy.random.default_rng([seed, CHUNK_STREAM, epoch])`` permutes an epoch's chunks."""
CHUNKS_PER_BUFFER = 16
"""How many chunks a streamed buffer holds (at least): more mix better, fewer read longer
slices."""


def buffer_batches(rows, batch_size, rng, last=True):
    """Yield the batches of one buffer: its rows shuffled by ``rng.permutation``, cut into
    runs of ``batch_size`` (each sorted), the last run shorter only when ``last``.

    Parameters
    ----------
    rows : object with ``len(rows)`` and ``rows.rows(index, rng)``
        The buffer's training rows (a :class:`MemoryRows`).
    batch_size : int
    rng : numpy.random.Generator
    last : bool
        The epoch's last buffer: its rows all go into batches.

    Yields
    ------
    tuple
        The arguments of the trainer's ``update`` for one batch: ``rows.batch(index,
        rng)``, i.e. ``(rows (batch_size, D),)`` (the last possibly fewer rows), with the
        batch's labels after the rows for labelled data.

    Returns
    -------
    np.ndarray, shape (r,)
        Positions in ``rows`` of the ``r < batch_size`` rows left over (empty when
        ``last``), for the next buffer.
    """
    order = rng.permutation(len(rows))
    end = len(order) if last else len(order) - len(order) % batch_size
    for k in range(0, end, batch_size):
        yield rows.batch(np.sort(order[k:k + batch_size]), rng)
    return order[end:]


class MemoryRows:
    """Base of the training rows held in memory (``self.images``, (N, D)): an epoch is one
    buffer holding every row. Subclasses define ``rows(index, rng)`` and ``mean()``."""

    def __len__(self):
        return self.images.shape[0]

    def batch(self, index, rng):
        """The arguments of the trainer's ``update`` for the rows at ``index``."""
        return (self.rows(index, rng),)

    def batches(self, rng, batch_size, epoch=0):
        """The batches of one epoch in random order (see :func:`buffer_batches`); ``epoch``
        does not matter in memory."""
        return buffer_batches(self, batch_size, rng)


@dataclass(frozen=True)
class StreamPlan:
    """How a data set is streamed: chunks of ``chunk_rows`` rows, ``buffer_chunks`` of them
    per buffer. Kept in the checkpoint (``/state/stream_plan``), so a resumed run reads
    as the uninterrupted one did."""

    chunk_rows: int
    buffer_chunks: int

    def as_state(self):
        """The plan as the checkpoint's (2,) int64 array."""
        return np.array([self.chunk_rows, self.buffer_chunks], np.int64)

    @classmethod
    def from_state(cls, array):
        chunk_rows, buffer_chunks = (int(v) for v in np.asarray(array).reshape(2))
        return cls(chunk_rows, buffer_chunks)


def plan_stream(n_rows, row_bytes, budget, batch_size, storage_rows=None):
    """How to stream ``n_rows`` training rows of ``row_bytes`` bytes each (as read plus the
    training copy) within ``budget`` bytes, or None when they fit in memory.

    A buffer holds at most ``budget // row_bytes`` rows: the rows carried from the buffer
    before (fewer than a batch) and ``buffer_chunks`` chunks. A chunk is about
    1/:data:`CHUNKS_PER_BUFFER` of that, rounded down to whole HDF5 storage chunks of
    ``storage_rows`` rows when at least one fits (else a part of one: slower reads, as
    a storage chunk is decompressed once for each part, but the buffer stays mixed).

    Raises
    ------
    InputError
        The budget holds fewer than two batches of rows.
    """
    if budget is None or n_rows * row_bytes <= budget:
        return None
    buffer_rows = budget // row_bytes
    if buffer_rows < 2 * batch_size:
        raise InputError(f"{size_text(budget)} holds {buffer_rows} training rows of "
                         f"{row_bytes} bytes, fewer than two batches of {batch_size}; give "
                         f"at least {size_text(2 * batch_size * row_bytes)} or a smaller "
                         f"--batch-size", "--memory")
    fetch = buffer_rows - (batch_size - 1)
    chunk_rows = max(1, fetch // CHUNKS_PER_BUFFER)
    if storage_rows and chunk_rows >= storage_rows:
        chunk_rows -= chunk_rows % storage_rows
    return StreamPlan(chunk_rows, fetch // chunk_rows)


class StreamedRows:
    """Training rows read from the data file a buffer at a time (see the module docstring).

    The same interface as :class:`MemoryRows` (``len``, ``rows``, ``mean``, ``batches``),
    so the trainers do not know where their rows come from.

    Parameters
    ----------
    images : rbmcli.io.datasets.ImageFile
        The (N, D) stored rows: ``images[a:b]`` and ``images[index]`` read them.
    convert : callable
        ``convert(raw)`` -> :class:`MemoryRows` of raw rows (n, D) (a Binarizer or
        StandardizedData): how training sees them.
    plan : StreamPlan
    seed : int
        With the epoch, seeds the order of the chunks.
    mean : (D,) array, optional
        The rows' mean when it is known without reading them (a GRBM's standardisation
        mean); else :meth:`mean` reads the file once.
    """

    def __init__(self, images, convert, plan, seed, mean=None):
        self.images, self.convert, self.plan, self.seed = images, convert, plan, seed
        n = len(images)
        starts = np.arange(0, n, plan.chunk_rows)
        self.chunks = np.stack([starts, np.minimum(starts + plan.chunk_rows, n)], axis=1)
        self._mean = mean

    def __len__(self):
        return len(self.images)

    def rows(self, index, rng):
        """Training rows (len(index), D) at ``index`` (any order; a read per call)."""
        return self.convert(self.images[index]).rows(np.arange(len(index)), rng)

    def blocks(self):
        """The stored rows chunk by chunk in file order: (chunk_rows, D) arrays (the
        last one shorter), one read each."""
        return (self.images[a:b] for a, b in self.chunks)

    def mean(self):
        """The training rows' mean (D,) float64, from one pass over the file (kept)."""
        if self._mean is None:
            total = sum(self.convert(raw).mean() * len(raw) for raw in self.blocks())
            self._mean = total / len(self)
        return self._mean

    def chunk_order(self, epoch):
        """(n_chunks,) the order of the chunks in the 0-based ``epoch``."""
        return np.random.default_rng([self.seed, CHUNK_STREAM, epoch]).permutation(
            len(self.chunks))

    def batches(self, rng, batch_size, epoch=0):
        """The batches of the 0-based ``epoch`` (a generator of ``(rows (B, D),)``, the
        arguments of the trainer's ``update``)."""
        order, k = self.chunk_order(epoch), self.plan.buffer_chunks
        carry = np.empty((0, self.images.shape[1]), self.images.dtype)
        for start in range(0, len(order), k):
            raw = self._buffer(carry, np.sort(order[start:start + k]))
            left = yield from buffer_batches(self.convert(raw), batch_size, rng,
                                             last=start + k >= len(order))
            carry = raw[np.sort(left)]

    def _buffer(self, carry, chunks):
        """The raw rows of ``carry`` followed by those of ``chunks`` (indices into
        :attr:`chunks`), each chunk read with one slice."""
        bounds = self.chunks[chunks]
        out = np.empty((len(carry) + int((bounds[:, 1] - bounds[:, 0]).sum()),
                        self.images.shape[1]), self.images.dtype)
        out[:len(carry)] = carry
        at = len(carry)
        for a, b in bounds:
            out[at:at + b - a] = self.images[a:b]
            at += b - a
        return out


def pixel_moments(images, block_rows):
    """Per-pixel mean and standard deviation (D,) float64 of grey pixels in [0, 1], read
    ``block_rows`` rows at a time (Chan et al.'s pairwise update of mean and sum of
    squared deviations).

    Parameters
    ----------
    images : (N, D) array or rbmcli.io.datasets.ImageFile
        uint8, bool or float pixels.
    block_rows : int
    """
    n, mean, squares = 0, 0.0, 0.0
    for a in range(0, len(images), block_rows):
        x = as_unit_float(images[a:a + block_rows], np.float64)
        m = x.mean(axis=0)
        delta, total = m - mean, n + len(x)
        mean = mean + delta * (len(x) / total)
        squares = squares + ((x - m) ** 2).sum(axis=0) + delta ** 2 * (n * len(x) / total)
        n = total
    return mean, np.sqrt(squares / n)
