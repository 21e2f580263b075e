"""dlib's face encoder, the ResNet behind face_recognition.face_encodings, in numpy.

The `dlib-bin` wheel is built without BLAS: its ResNet takes 58-100 ms a face on our
CPUs. The same network run as matrix products by numpy (OpenBLAS) takes about 9 ms
and gives the same 128 numbers to within 1e-6 (tests/recognition/
test_encoder.py compares them with dlib's on real photos). The weights are read
from the model file that face_recognition_models ships, and dlib still finds the
five landmarks and cuts the aligned 150 px chip, so nothing else changes.

The network (dlib's dnn_face_recognition_ex.cpp): a 7×7/2 convolution and a 3×3/2
max pool, 14 residual blocks of two 3×3 convolutions (the first of a "down" block
has stride 2 and its shortcut is a 2×2/2 average pool), a mean over the image and a
256→128 product. dlib adds tensors of different shapes as if the smaller were
padded with zeros at its ends (channels, bottom, right); so does `_add`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

CHIP_SIZE = 150
CHIP_PADDING = 0.25


class ModelFormatError(RuntimeError):
    """The model file does not hold the network this module knows how to run."""


@dataclass(frozen=True)
class Conv:
    """A convolution with the affine (frozen batch-norm) layer after it folded in."""

    weights: np.ndarray  # (filters, channels * size * size)
    bias: np.ndarray  # (filters,)
    size: int
    stride: int
    padding: int

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """x is (channels, faces, rows, cols), as are all tensors here."""
        channels, faces = x.shape[:2]
        k, s = self.size, self.stride
        if p := self.padding:
            shape = (*x.shape[:2], x.shape[2] + 2 * p, x.shape[3] + 2 * p)
            padded = np.zeros(shape, np.float32)
            padded[:, :, p:-p, p:-p] = x
            x = padded
        rows, cols = 1 + (x.shape[2] - k) // s, 1 + (x.shape[3] - k) // s
        patches = np.empty((channels, k, k, faces, rows, cols), np.float32)
        for i in range(k):
            for j in range(k):
                patches[:, i, j] = x[:, :, i : i + s * rows : s, j : j + s * cols : s]
        out = self.weights @ patches.reshape(channels * k * k, -1)
        out += self.bias[:, None]
        return out.reshape(-1, faces, rows, cols)


@dataclass(frozen=True)
class Block:
    """relu(conv2(relu(conv1(x))) + shortcut(x)); `down` blocks halve the size."""

    conv1: Conv
    conv2: Conv
    down: bool

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y = self.conv2(_relu(self.conv1(x)))
        shortcut = _pool(x, 2, 2, np.mean) if self.down else x
        return _relu(_add(y, shortcut))


@dataclass(frozen=True)
class Network:
    mean_rgb: np.ndarray  # subtracted from the chip's pixels, then divided by 256
    stem: Conv
    blocks: tuple[Block, ...]
    projection: np.ndarray  # (256, 128)

    def encode(self, chips: np.ndarray) -> np.ndarray:
        """(faces, 150, 150, 3) uint8 RGB chips → (faces, 128) float64 encodings."""
        x = (chips.astype(np.float32) - self.mean_rgb) / np.float32(256)
        x = np.ascontiguousarray(x.transpose(3, 0, 1, 2))
        x = _pool(_relu(self.stem(x)), 3, 2, np.max)
        for block in self.blocks:
            x = block(x)
        pooled = x.mean(axis=(2, 3)).T  # (faces, 256)
        return (pooled @ self.projection).astype(np.float64)


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0, out=x)


def _pool(
    x: np.ndarray, size: int, stride: int, reduce: Callable[..., np.ndarray]
) -> np.ndarray:
    rows = 1 + (x.shape[2] - size) // stride
    cols = 1 + (x.shape[3] - size) // stride
    windows = [
        x[:, :, i : i + stride * rows : stride, j : j + stride * cols : stride]
        for i in range(size)
        for j in range(size)
    ]
    return reduce(windows, axis=0).astype(np.float32)


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.shape == b.shape:
        return a + b
    shape = [max(m, n) for m, n in zip(a.shape, b.shape, strict=True)]
    out = np.zeros(shape, np.float32)
    out[tuple(slice(0, n) for n in a.shape)] += a
    out[tuple(slice(0, n) for n in b.shape)] += b
    return out


# --- Reading dlib's model file ------------------------------------------------------

# How the layers follow each other from the input up: the stem, 14 blocks, the head.
_STEM = ["con", "affine", "relu", "max_pool"]
_BLOCK = ["con", "affine", "relu", "con", "affine"]
_LAYER_NAME = re.compile(
    rb"\x01[\x04-\x0b](con_4|affine_|relu_|add_prev_|avg_pool_2|max_pool_2|fc_2)"
)


class _Reader:
    """dlib's serialisation: integers as a length byte (bit 7: negative) and
    little-endian bytes, floats as integer mantissa and exponent, strings as a
    length and bytes, tensors as version 2, four sizes and raw float32 values."""

    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data, self.offset = data, offset

    def int(self) -> int:
        head = self.data[self.offset]
        size = head & 0x0F
        start = self.offset + 1
        value = int.from_bytes(self.data[start : start + size], "little")
        self.offset += 1 + size
        return -value if head & 0x80 else value

    def float(self) -> float:
        mantissa = self.int()
        return mantissa * 2.0 ** self.int()

    def str(self) -> str:
        size = self.int()
        value = self.data[self.offset : self.offset + size].decode("ascii")
        self.offset += size
        return value

    def tensor(self) -> np.ndarray:
        if self.int() != 2:
            raise ModelFormatError(f"unknown tensor version at byte {self.offset}")
        shape = [self.int() for _ in range(4)]
        count = int(np.prod(shape))
        if self.offset + 4 * count > len(self.data):
            raise ModelFormatError(f"the file ends inside a tensor {shape}")
        values = np.frombuffer(self.data, "<f4", count, self.offset)
        self.offset += 4 * count
        return values.astype(np.float32)

    def next_layer(self) -> str | None:
        """Skip the bookkeeping dlib stores after a layer (flags, empty gradient
        tensors; at most a few dozen bytes) and read the next layer's name."""
        found = _LAYER_NAME.search(self.data, self.offset, self.offset + 256)
        if found is None:
            return None
        self.offset = found.start()
        return self.str()


def read_layers(data: bytes) -> tuple[np.ndarray, list[tuple[str, object]]]:
    """The input's mean pixel and the (kind, parameters) of each layer, input first."""
    start = data.find(b"\x15input_rgb_image_sized")
    if start < 1:
        raise ModelFormatError("no input_rgb_image_sized layer: not dlib's face model")
    reader = _Reader(data, start - 1)
    reader.str()
    mean_rgb = np.array([reader.float() for _ in range(3)], np.float32)
    if [reader.int(), reader.int()] != [CHIP_SIZE, CHIP_SIZE]:
        raise ModelFormatError("the model does not take 150 px chips")
    layers: list[tuple[str, object]] = []
    while (name := reader.next_layer()) is not None:
        kind = name.rstrip("_0123456789")
        if kind == "con":
            params = reader.tensor()
            layers.append((kind, (params, *[reader.int() for _ in range(7)])))
        elif kind == "affine":
            layers.append((kind, reader.tensor()))
        elif kind in ("max_pool", "avg_pool"):
            layers.append((kind, [reader.int() for _ in range(6)]))
        elif kind == "fc":
            outputs, inputs = reader.int(), reader.int()
            layers.append((kind, reader.tensor().reshape(inputs, outputs)))
            break
        else:
            layers.append((kind, None))
    return mean_rgb, layers


def _conv(con: object, affine: object, channels: int) -> Conv:
    params, filters, size, cols, stride, stride_x, padding, padding_x = con
    if (size, stride, padding) != (cols, stride_x, padding_x):
        raise ModelFormatError("non-square convolution")
    weights = params[: filters * channels * size * size].reshape(filters, -1)
    bias = params[filters * channels * size * size :]
    gamma, beta = affine[:filters], affine[filters:]
    if bias.shape != (filters,) or beta.shape != (filters,):
        raise ModelFormatError("convolution and affine layer sizes disagree")
    return Conv(
        np.ascontiguousarray(weights * gamma[:, None]),
        bias * gamma + beta,
        size,
        stride,
        padding,
    )


def build(data: bytes) -> Network:
    """The network in dlib's dlib_face_recognition_resnet_model_v1.dat, checked
    layer by layer against the architecture above."""
    mean_rgb, layers = read_layers(data)
    kinds = [kind for kind, _ in layers]
    if kinds[:4] != _STEM:
        raise ModelFormatError(f"unexpected first layers {kinds[:4]}")
    stem = _conv(layers[0][1], layers[1][1], 3)
    channels = stem.weights.shape[0]
    blocks, i = [], 4
    while kinds[i : i + 5] == _BLOCK:
        conv1 = _conv(layers[i][1], layers[i + 1][1], channels)
        conv2 = _conv(layers[i + 3][1], layers[i + 4][1], conv1.weights.shape[0])
        down = kinds[i + 5 : i + 6] == ["avg_pool"]
        i += 6 if down else 5
        if kinds[i : i + 2] != ["add_prev", "relu"] or (down and conv1.stride != 2):
            raise ModelFormatError(f"unexpected residual block at layer {i}")
        blocks.append(Block(conv1, conv2, down))
        channels, i = conv2.weights.shape[0], i + 2
    if kinds[i:] != ["avg_pool", "fc"] or len(blocks) != 14:
        raise ModelFormatError(f"unexpected head {kinds[i:]}, {len(blocks)} blocks")
    projection = np.ascontiguousarray(layers[i + 1][1])
    if projection.shape != (channels, 128):
        raise ModelFormatError(f"unexpected projection {projection.shape}")
    return Network(mean_rgb, stem, tuple(blocks), projection)


@functools.cache
def load(path: str) -> Network:
    """The network from a model file, read once per process."""
    with open(path, "rb") as model:
        return build(model.read())
