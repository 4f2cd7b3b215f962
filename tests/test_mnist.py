"""rbmcli.io.mnist: idx parsing (hand-made bytes), loading from a folder, downloading, checksums."""

import gzip
import hashlib
import struct

import numpy as np
import pytest

from rbmcli.errors import InputError
from rbmcli.io.mnist import FILES, SHA256, load_mnist, read_idx

MNIST_NAMES = [name for pair in FILES.values() for name in pair]


def idx_bytes(magic, shape, payload):
    return struct.pack(">I", magic) + struct.pack(f">{len(shape)}I", *shape) + bytes(payload)


# ------------------------------------------------------- read_idx on tiny hand-made bytes


def test_read_idx_labels():
    labels = read_idx(idx_bytes(0x0801, (4,), [7, 0, 9, 3]), "l")
    assert labels.dtype == np.uint8 and labels.shape == (4,)
    np.testing.assert_array_equal(labels, [7, 0, 9, 3])
    labels[0] = 1  # a writable copy, not a view of the bytes


def test_read_idx_images():
    images = read_idx(idx_bytes(0x0803, (2, 2, 3), range(12)), "i")
    assert images.dtype == np.uint8 and images.shape == (2, 2, 3)
    np.testing.assert_array_equal(images[1], [[6, 7, 8], [9, 10, 11]])


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x00\x00", "not an idx file (2 bytes)"),
        (idx_bytes(0x0802, (1,), [0]), "not an idx file of bytes (magic number 0x00000802)"),
        (idx_bytes(0x0D03, (1, 1, 1), [0]), "not an idx file of bytes (magic number 0x00000d03)"),
        (struct.pack(">II", 0x0803, 5), "truncated idx header (8 bytes)"),
        (idx_bytes(0x0801, (5,), [1, 2, 3]), "size mismatch: header (5,) needs 13 bytes, found 11"),
        (idx_bytes(0x0803, (1, 2, 2), range(5)), "size mismatch: header (1, 2, 2) needs 20 bytes, found 21"),
    ],
)
def test_read_idx_refuses_bad_files(data, message):
    with pytest.raises(InputError) as info:
        read_idx(data, "some-file")
    assert str(info.value) == f"some-file: {message}"


def test_missing_folder_and_files(tmp_path):
    with pytest.raises(InputError, match=r"nowhere: no such directory$"):
        load_mnist(tmp_path / "nowhere")
    with pytest.raises(InputError) as info:
        load_mnist(tmp_path)
    assert str(info.value) == f"{tmp_path}: no train-images-idx3-ubyte(.gz) in this folder"


def test_checksums_embedded():
    assert set(SHA256) == set(MNIST_NAMES)
    assert all(len(h) == 64 for h in SHA256.values())


# ----------------------------------------------------------------- the real files (shared)


def check_mnist(splits):
    train_images, train_labels = splits["train"]
    test_images, test_labels = splits["test"]
    assert train_images.shape == (60000, 784) and train_images.dtype == np.uint8
    assert test_images.shape == (10000, 784) and test_images.dtype == np.uint8
    assert train_labels.shape == (60000,) and test_labels.shape == (10000,)
    np.testing.assert_array_equal(train_labels[:8], [5, 0, 4, 1, 9, 2, 1, 3])
    np.testing.assert_array_equal(test_labels[:8], [7, 2, 1, 0, 4, 1, 4, 9])
    assert np.bincount(train_labels, minlength=10)[1] == 6742  # the ones of MNIST train
    assert train_images.max() == 255 and train_images[0].min() == 0


def test_load_from_folder(mnist_dir):
    check_mnist(load_mnist(mnist_dir))


def test_load_from_raw_and_gz_files(mnist_dir, tmp_path):
    # a folder mixing an uncompressed file with symlinks to the .gz originals
    raw = tmp_path / "t10k-labels-idx1-ubyte"
    raw.write_bytes(gzip.decompress((mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    for name in MNIST_NAMES[:3]:
        (tmp_path / f"{name}.gz").symlink_to(mnist_dir / f"{name}.gz")
    splits = load_mnist(tmp_path)
    np.testing.assert_array_equal(splits["test"][1][:3], [7, 2, 1])


def corrupt_folder(mnist_dir, tmp_path, corrupted_name, raw):
    """tmp_path with symlinks to the originals and one flipped-byte copy of ``corrupted_name``."""
    for name in MNIST_NAMES:
        if name != corrupted_name:
            (tmp_path / f"{name}.gz").symlink_to(mnist_dir / f"{name}.gz")
    if raw:
        data = bytearray(gzip.decompress((mnist_dir / f"{corrupted_name}.gz").read_bytes()))
        target = tmp_path / corrupted_name
    else:
        data = bytearray((mnist_dir / f"{corrupted_name}.gz").read_bytes())
        target = tmp_path / f"{corrupted_name}.gz"
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    return target, hashlib.sha256(data).hexdigest()


def test_flipped_byte_in_raw_file_fails_checksum(mnist_dir, tmp_path):
    target, found = corrupt_folder(mnist_dir, tmp_path, "train-labels-idx1-ubyte", raw=True)
    with pytest.raises(InputError) as info:
        load_mnist(tmp_path)
    expected = SHA256["train-labels-idx1-ubyte"]
    assert str(info.value) == f"{target}: checksum mismatch: expected {expected}, found {found}"


def test_flipped_byte_in_gz_file_is_refused(mnist_dir, tmp_path):
    target, _ = corrupt_folder(mnist_dir, tmp_path, "train-labels-idx1-ubyte", raw=False)
    with pytest.raises(InputError, match="corrupt gzip data|checksum mismatch") as info:
        load_mnist(tmp_path)
    assert info.value.path == str(target)


# ------------------------------------------------------------------ downloading (127.0.0.1)


def test_download_from_local_server(mnist_dir, http_serve):
    url = http_serve(mnist_dir)
    messages = []
    check_mnist(load_mnist(url=url.rstrip("/"), log=messages.append))  # a missing '/' is added
    assert messages[0] == f"downloading {url}train-images-idx3-ubyte.gz"
    assert len(messages) == 4


def test_download_errors_name_the_url(tmp_path, http_serve):
    url = http_serve(tmp_path)  # an empty folder: 404
    with pytest.raises(InputError) as info:
        load_mnist(url=url)
    assert str(info.value) == f"{url}train-images-idx3-ubyte.gz: download failed: HTTP 404 File not found"
    with pytest.raises(InputError, match=r"^nothing://x/train-images-idx3-ubyte\.gz: download failed"):
        load_mnist(url="nothing://x/")


def test_downloaded_file_with_bad_content(tmp_path, http_serve):
    bad = gzip.compress(idx_bytes(0x0803, (1, 2, 2), range(4)))
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(bad)
    url = http_serve(tmp_path)
    with pytest.raises(InputError, match=r"^http://127\.0\.0\.1:\d+/train-images-idx3-ubyte\.gz: checksum mismatch"):
        load_mnist(url=url)


def test_source_and_url_are_exclusive(tmp_path):
    with pytest.raises(ValueError):
        load_mnist(tmp_path, url="http://127.0.0.1:1/")

