"""The embedded default data set: MNIST-like digits drawn in-process with Pillow's font.

Each digit 0-9 is rendered once per stroke width at twice the final resolution; every
image is then one affine warp of such a glyph (random rotation of +-15 degrees, scale,
width, slant and shift) followed by a 2x2 box reduction, which anti-aliases the
strokes. White strokes on black, like MNIST. 10,000 images take well under a second.
"""

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

_SUPERSAMPLE = 2
_DIGIT_HEIGHT = 0.70  # digit height / image side, before the random scale (MNIST: 20/28)
_MAX_DILATION = 2  # stroke widths: the glyph dilated 0.._MAX_DILATION times (3x3 max filter)


def synthetic_digits(n, seed=0, size=28):
    """Draw ``n`` random digit images.

    Parameters
    ----------
    n : int
        Number of images.
    seed : int or sequence of int, optional
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same images.
    size : int, optional
        Side of the square images, in pixels.

    Returns
    -------
    images : np.ndarray, shape (n, size * size), uint8
        0 = background, 255 = ink.
    labels : np.ndarray, shape (n,), uint8
        The digit drawn in each image.
    """
    rng = np.random.default_rng(seed)
    glyphs = _glyphs(size)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    widths = rng.integers(0, _MAX_DILATION + 1, n)
    angles = np.deg2rad(rng.uniform(-15, 15, n))
    scales = rng.uniform(0.85, 1.1, n)
    aspects = rng.uniform(0.75, 1.1, n)
    slants = rng.uniform(-0.25, 0.25, n)
    shifts = rng.uniform(-0.04, 0.04, (n, 2)) * size

    big = size * _SUPERSAMPLE
    images = np.empty((n, size * size), dtype=np.uint8)
    for i in range(n):
        glyph, height, glyph_centre = glyphs[labels[i]][widths[i]]
        s = _DIGIT_HEIGHT * big / height * scales[i]
        c, si = np.cos(angles[i]), np.sin(angles[i])
        # output offset from the centre = A @ (glyph offset from its centre of mass) + shift
        a = s * np.array([[c, -si], [si, c]]) @ np.array([[1, slants[i]], [0, 1]]) @ np.diag([aspects[i], 1])
        m = np.linalg.inv(a)
        out_centre = (size / 2 + 0.5 + shifts[i]) * _SUPERSAMPLE  # MNIST: centre of mass at pixel 14
        offset = glyph_centre - m @ out_centre
        data = (m[0, 0], m[0, 1], offset[0], m[1, 0], m[1, 1], offset[1])
        warped = glyph.transform((big, big), Image.Transform.AFFINE, data, Image.Resampling.BILINEAR)
        images[i] = np.frombuffer(warped.reduce(_SUPERSAMPLE).tobytes(), dtype=np.uint8)
    return images, labels


@lru_cache(maxsize=4)
def _glyphs(size):
    """For each digit, a list over stroke widths of (glyph image 'L', digit height in px,
    centre of mass (x, y) in continuous pixel coordinates)."""
    target = _DIGIT_HEIGHT * size * _SUPERSAMPLE
    font = _font(round(target / 0.7))  # digits of the default font are ~0.7 em high
    table = []
    for digit in range(10):
        glyph = _render(font, str(digit), target)
        widths = []
        for _ in range(_MAX_DILATION + 1):
            box = glyph.getbbox()
            widths.append((glyph, box[3] - box[1], _centre_of_mass(glyph)))
            glyph = glyph.filter(ImageFilter.MaxFilter(3))
        table.append(widths)
    return table


def _centre_of_mass(img):
    """(x, y) centre of mass of a grey image, in continuous coordinates (pixel i spans [i, i+1))."""
    ink = np.asarray(img, dtype=np.float64)
    total = ink.sum()
    rows, cols = np.indices(ink.shape) + 0.5
    return np.array([(ink * cols).sum() / total, (ink * rows).sum() / total])


def _font(px):
    """Pillow's built-in font at ``px`` pixels (a bitmap font if sizes are unsupported)."""
    try:
        return ImageFont.load_default(size=px)
    except TypeError:  # Pillow < 10.1: only the small bitmap font
        return ImageFont.load_default()


def _render(font, text, target):
    """``text`` white on black, cropped with a margin, scaled up to ~``target`` px high."""
    left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=font)
    canvas = Image.new("L", (right - left + 2, bottom - top + 2))
    ImageDraw.Draw(canvas).text((1 - left, 1 - top), text, fill=255, font=font)
    if canvas.height < 0.8 * target:  # a small bitmap font: enlarge before warping
        k = target / canvas.height
        canvas = canvas.resize((round(canvas.width * k), round(canvas.height * k)), Image.Resampling.BICUBIC)
        canvas = canvas.point(lambda v: 255 if v >= 100 else 0)  # crisp strokes, not a blur
    margin = 2 * _MAX_DILATION + 2
    framed = Image.new("L", (canvas.width + 2 * margin, canvas.height + 2 * margin))
    framed.paste(canvas, (margin, margin))
    return framed
