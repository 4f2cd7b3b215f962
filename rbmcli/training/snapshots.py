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
