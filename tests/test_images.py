"""rbmcli.io.images: PNG grids and filters, reading PNGs as grey levels (with alpha)."""

import os

import numpy as np
import pytest
from PIL import Image

from rbmcli.errors import InputError
from rbmcli.io.images import read_png, save_filters, save_grid


def png_array(path):
    with Image.open(path) as img:
        assert img.format == "PNG" and img.mode == "L"
        return np.asarray(img)


def test_save_grid_layout(tmp_path):
    images = np.zeros((5, 6), np.float32)  # five 2x3 images
    images[0] = 1.0
    images[4, 5] = 0.5
    path = tmp_path / "g.png"
    save_grid(path, images, (2, 3), ncols=2, scale=1, pad=1)
    grid = png_array(path)
    # 3 rows x 2 cols of 2x3 tiles, 1-pixel grey lines around and between them
    assert grid.shape == (3 * (2 + 1) + 1, 2 * (3 + 1) + 1)
    assert (grid[1:3, 1:4] == 255).all()  # tile 0 is white
    assert (grid[1:3, 5:8] == 0).all()  # tile 1 is black
    assert grid[7 + 1, 1 + 2] == 128  # tile 4 (row 2, col 0): last pixel 0.5
    assert (grid[0] == 128).all() and (grid[:, 4] == 128).all()  # the separating lines
    assert (grid[7:9, 5:8] == 128).all()  # the empty sixth slot stays grey


def test_save_grid_scale_default_columns_and_uint8(tmp_path):
    images = (np.arange(9 * 4) % 256).astype(np.uint8).reshape(9, 4)
    path = tmp_path / "g.png"
    save_grid(path, images, (2, 2), scale=3, pad=0)
    grid = png_array(path)
    assert grid.shape == (3 * 2 * 3, 3 * 2 * 3)  # ceil(sqrt(9)) = 3 columns
    np.testing.assert_array_equal(grid[:6:3, :6:3], images[0].reshape(2, 2))


def test_save_grid_refuses_wrong_shape_and_is_atomic(tmp_path):
    path = tmp_path / "g.png"
    path.write_bytes(b"old")
    with pytest.raises(ValueError):
        save_grid(path, np.zeros((2, 5)), (2, 3))
    assert path.read_bytes() == b"old"
    with pytest.raises(InputError, match="no such directory"):
        save_grid(tmp_path / "nope" / "g.png", np.zeros((1, 4)), (2, 2))
    assert os.listdir(tmp_path) == ["g.png"]


def test_save_filters_normalises_each_filter(tmp_path):
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(6, 5)) * np.array([0.01, 1, 100, 1, 1])
    weights[:, 3] = 7.0  # a constant filter
    path = tmp_path / "f.png"
    save_filters(path, weights, (2, 3), n=4)
    grid = png_array(path)  # 4 filters: 2x2 grid, scale 2, pad 1
    assert grid.shape == (2 * (2 * 3 + 1), 2 * (2 * 4 + 1))
    tiles = [grid[2 + r * 6 : 6 + r * 6 : 2, 2 + c * 8 : 8 + c * 8 : 2] for r in range(2) for c in range(2)]
    for j, tile in enumerate(tiles[:3]):
        assert tile.min() == 0 and tile.max() == 255, j
        np.testing.assert_array_equal(np.argsort(tile.ravel(), kind="stable")[[0, -1]],
                                      [np.argmin(weights[:, j]), np.argmax(weights[:, j])])
    assert (tiles[3] == 128).all()


# ------------------------------------------------------------------------------- read_png


def test_read_grey_png(tmp_path):
    pixels = np.array([[0, 51], [204, 255]], np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    grey, alpha = read_png(tmp_path / "a.png")
    assert grey.dtype == np.float32 and alpha is None
    np.testing.assert_allclose(grey, pixels / 255, rtol=1e-6)


def test_read_rgba_and_la_png(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[..., 3] = [[0, 255], [51, 255]]
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    grey, alpha = read_png(tmp_path / "rgba.png")
    np.testing.assert_allclose(grey, 1.0)
    np.testing.assert_allclose(alpha, [[0, 1], [0.2, 1]], rtol=1e-6)
    Image.new("LA", (3, 1), (10, 128)).save(tmp_path / "la.png")
    grey, alpha = read_png(tmp_path / "la.png")
    assert grey.shape == alpha.shape == (1, 3)
    np.testing.assert_allclose(alpha, 128 / 255, rtol=1e-6)


def test_read_palette_with_transparency_and_16_bit(tmp_path):
    img = Image.new("P", (2, 1))
    img.putpalette([0, 0, 0, 255, 255, 255])
    img.putpixel((1, 0), 1)
    img.save(tmp_path / "p.png", transparency=0)
    grey, alpha = read_png(tmp_path / "p.png")
    np.testing.assert_allclose(alpha, [[0, 1]])
    np.testing.assert_allclose(grey[0, 1], 1.0)
    Image.fromarray(np.array([[0, 65535, 32768]], np.uint16)).save(tmp_path / "16.png")
    grey, alpha = read_png(tmp_path / "16.png")
    assert alpha is None
    np.testing.assert_allclose(grey, [[0, 1, 32768 / 65535]], rtol=1e-6)


def test_read_rgb_png_is_converted_to_luminance(tmp_path):
    rgb = np.zeros((1, 2, 3), np.uint8)
    rgb[0, 1] = (0, 255, 0)
    Image.fromarray(rgb, "RGB").save(tmp_path / "rgb.png")
    grey, _ = read_png(tmp_path / "rgb.png")
    assert grey[0, 0] == 0 and 0.5 < grey[0, 1] < 0.7  # green is ~59% luminance


def test_read_png_errors(tmp_path):
    with pytest.raises(InputError) as info:
        read_png(str(tmp_path / "nope.png"))
    assert str(info.value) == f"{tmp_path / 'nope.png'}: no such file"
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(InputError, match=r"text\.png: not a PNG file$"):
        read_png(tmp_path / "text.png")
    Image.new("L", (4, 4)).save(tmp_path / "photo.png", format="JPEG")
    with pytest.raises(InputError, match=r"photo\.png: not a PNG file \(found JPEG\)$"):
        read_png(tmp_path / "photo.png")
    noisy = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
    Image.fromarray(noisy).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut\.png: corrupt or truncated PNG file$"):
        read_png(tmp_path / "cut.png")
    with pytest.raises(InputError, match="is a directory"):
        read_png(tmp_path)
