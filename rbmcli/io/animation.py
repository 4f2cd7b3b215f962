"""The "video of inference": an animated GIF of a grid of chains as a sampler runs.

``rec = GifRecorder(image_shape, steps)``; pass ``rec.add`` (or a function calling it)
as a sampler's ``on_step(t, images)``; ``rec.save("chains.gif")``. Each frame is the
same grid as :func:`rbmcli.io.images.save_grid` draws, under a caption ``step t/steps``.
"""


import numpy as np
from PIL import Image, ImageDraw

from rbmcli.io.atomic import atomic_path
from rbmcli.io.images import tile_grid

FRAME_MS = 80
"""Duration of a frame; the last one is held for :data:`HOLD_MS`."""
HOLD_MS = 1500


def tile(images01, image_shape, ncols=None, scale=2, pad=1):
    """The (H, W) uint8 grid of :func:`rbmcli.io.images.save_grid` as an array."""
    return tile_grid(images01, image_shape, ncols=ncols, scale=scale, pad=pad)


class GifRecorder:
    """Collects grid frames and writes them as a looping animated GIF.

    Parameters
    ----------
    image_shape : (rows, cols) of one image.
    steps : int
        The run's total steps (for the caption).
    arrange : callable, optional
        ``arrange(images) -> tiles (T, D)``: what to draw from the sampler's (N, D)
        images (e.g. an inpainting panel); the images themselves by default.
    ncols : int, optional
        Tiles per row of the grid.
    caption : bool
        Draw ``step t/steps`` above the grid.
    """

    def __init__(self, image_shape, steps, arrange=None, ncols=None, caption=True):
        self.image_shape = tuple(image_shape)
        self.steps = int(steps)
        self.arrange = arrange or (lambda images: images)
        self.ncols = ncols
        self.caption = caption
        self.frames = []

    def add(self, t, images):
        """Record the frame of step ``t`` (a sampler's ``on_step``)."""
        grid = tile(self.arrange(images), self.image_shape, self.ncols)
        if self.caption:
            grid = _captioned(grid, f"step {t}/{self.steps}")
        self.frames.append(grid)

    def save(self, path):
        """Write the frames (at least one) to ``path`` atomically: FRAME_MS each, the
        last held HOLD_MS, looping forever."""
        if not self.frames:
            raise ValueError("no frames recorded")
        images = [Image.fromarray(f) for f in self.frames]
        durations = [FRAME_MS] * (len(images) - 1) + [HOLD_MS]
        with atomic_path(path) as tmp:
            images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                           duration=durations, loop=0, optimize=False, disposal=1)


def _captioned(grid, text):
    """The grid under a black strip with ``text`` in white."""
    strip = 12
    canvas = Image.new("L", (grid.shape[1], grid.shape[0] + strip), 0)
    canvas.paste(Image.fromarray(grid), (0, strip))
    ImageDraw.Draw(canvas).text((2, 0), text, fill=255)
    return np.asarray(canvas)


def on_step_callback(bar, steps, recorder=None):
    """A sampler's ``on_step`` that advances a :class:`rbmcli.progress.ProgressBar`
    and, when given, adds the frame to a :class:`GifRecorder`."""

    def on_step(t, images):
        bar.update(t, steps)
        if recorder is not None:
            recorder.add(t, images)

    return on_step
