"""MNIST loaders: the bundled real subset and IDX files written in the real format."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from snnhw import SnnhwError
from snnhw.data import bundled_mnist, load_mnist_idx, read_idx


def _idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def test_bundled_subset_is_real_mnist_split_4000_1000():
    split = bundled_mnist(0)
    assert split.x_train.shape == (4000, 784) and split.x_test.shape == (1000, 784)
    assert split.x_train.dtype == np.uint8 and split.x_train.max() == 255
    assert set(np.unique(split.y_test)) == set(range(10))
    again = bundled_mnist(0)
    np.testing.assert_array_equal(split.x_test, again.x_test)
    other = bundled_mnist(1)
    assert not np.array_equal(split.y_test, other.y_test)
    # the two parts are disjoint rows of the same 5,000
    train_rows = {row.tobytes() for row in split.x_train}
    assert sum(row.tobytes() in train_rows for row in split.x_test) < 5   # allow true duplicates


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, compress):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=7, dtype=np.uint8)
    names = {"train-images-idx3-ubyte": images, "train-labels-idx1-ubyte": labels,
             "t10k-images-idx3-ubyte": images[:3], "t10k-labels-idx1-ubyte": labels[:3]}
    for name, array in names.items():
        data = _idx_bytes(array)
        if compress:
            (tmp_path / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (tmp_path / name).write_bytes(data)
    split = load_mnist_idx(tmp_path)
    np.testing.assert_array_equal(split.x_train, images.reshape(7, 784))
    np.testing.assert_array_equal(split.y_test, labels[:3])


def test_idx_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad-idx"
    bad.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(SnnhwError, match="bad-idx: not an IDX file"):
        read_idx(bad)
    short = tmp_path / "short-idx"
    short.write_bytes(_idx_bytes(np.zeros((4, 4), np.uint8))[:-3])
    with pytest.raises(SnnhwError, match="short-idx: IDX header promises"):
        read_idx(short)
    with pytest.raises(SnnhwError, match="missing train-images-idx3-ubyte"):
        load_mnist_idx(tmp_path)
