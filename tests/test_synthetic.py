"""rbmcli.io.synthetic: the embedded digits are MNIST-like, labelled correctly, reproducible, fast."""


import numpy as np
import pytest
from PIL import ImageFont

import rbmcli.io.synthetic as synthetic
from rbmcli.io.synthetic import synthetic_digits


def nearest_centroid_accuracy(train, test):
    (x, y), (xt, yt) = train, test
    centroids = np.stack([x[y == k].mean(axis=0) for k in range(10)])
    distances = ((xt[:, None, :].astype(np.float64) - centroids[None]) ** 2).sum(axis=-1)
    return (distances.argmin(axis=1) == yt).mean()


def test_shapes_range_and_reproducibility():
    images, labels = synthetic_digits(200, seed=5)
    assert images.shape == (200, 784) and images.dtype == np.uint8
    assert labels.shape == (200,) and set(labels) == set(range(10))
    assert images.max() == 255 and (images[:, :28] < 64).all()  # ink, and a black top row
    again, _ = synthetic_digits(200, seed=5)
    np.testing.assert_array_equal(images, again)
    other, _ = synthetic_digits(200, seed=6)
    assert not np.array_equal(images, other)
    small, _ = synthetic_digits(3, size=16)
    assert small.shape == (3, 256)


def test_like_mnist_ink_and_centring():
    images, _ = synthetic_digits(500, seed=0)
    ink = images.astype(np.float64).reshape(-1, 28, 28)
    assert 0.08 < (images > 128).mean() < 0.25  # MNIST: 0.13
    total = ink.sum(axis=(1, 2))
    rows = (ink.sum(axis=2) * np.arange(28)).sum(axis=1) / total
    cols = (ink.sum(axis=1) * np.arange(28)).sum(axis=1) / total
    assert abs(rows.mean() - 14) < 0.5 and abs(cols.mean() - 14) < 0.5  # centre of mass, like MNIST


def test_labels_match_the_drawn_digits():
    # a nearest-centroid classifier fitted on one seed recognises the digits of another
    accuracy = nearest_centroid_accuracy(synthetic_digits(3000, seed=0), synthetic_digits(500, seed=1))
    assert accuracy > 0.7  # chance is 0.1


def test_fallback_without_sized_default_font(monkeypatch):
    original = ImageFont.load_default

    def load_default(size=None):  # Pillow < 10.1 has no size argument
        if size is not None:
            raise TypeError("load_default() got an unexpected keyword argument 'size'")
        return original()

    monkeypatch.setattr(synthetic.ImageFont, "load_default", load_default)
    synthetic._glyphs.cache_clear()
    try:
        train, test = synthetic_digits(2000, seed=0), synthetic_digits(300, seed=1)
    finally:
        synthetic._glyphs.cache_clear()
    assert train[0].max() == 255
    assert nearest_centroid_accuracy(train, test) > 0.6


@pytest.mark.parametrize("n", [0, 1])
def test_tiny_counts(n):
    images, labels = synthetic_digits(n)
    assert images.shape == (n, 784) and labels.shape == (n,)
