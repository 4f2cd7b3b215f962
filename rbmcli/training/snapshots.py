"""Epoch-start snapshots of a trainer whose whole state is a list of arrays and an RNG
(the fine-tuning trainers): an epoch cut short by a signal returns to its start."""

import numpy as np


class ArraySnapshots:
    """Mixin: :meth:`snapshot` and :meth:`restore` over ``self._arrays()`` (the arrays
    updated in place) and ``self.rng``; :meth:`_restored` runs after a restore."""

    def _arrays(self):
        raise NotImplementedError

    def _restored(self):
        """Refresh what derives from the arrays (nothing by default)."""

    def snapshot(self):
        """Copies of the arrays and the RNG state."""
        return [a.copy() for a in self._arrays()], self.rng.bit_generator.state

    def restore(self, snap):
        """Put the arrays and the RNG back as :meth:`snapshot` found them."""
        arrays, rng_state = snap
        for dst, src in zip(self._arrays(), arrays):
            np.copyto(dst, src)
        self._restored()
        self.rng.bit_generator.state = rng_state


def momentum_buffers(state, prefix, arrays):
    """The momentum buffers of ``arrays``, one per array: ``state[f"{prefix}_{i}"]`` (from a
    checkpoint's state, in the array's dtype) or zeros, put back into ``state`` so that
    the checkpoint keeps them."""
    buffers = []
    for i, array in enumerate(arrays):
        key = f"{prefix}_{i}"
        state[key] = np.asarray(state.get(key, np.zeros_like(array)), array.dtype)
        buffers.append(state[key])
    return buffers
