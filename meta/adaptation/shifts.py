"""The image shifts the group-shift datasets are made of, on batches of 16x16 digits in [0, 1].

Every function maps ``images`` of shape (N, 16, 16) to the same shape and
range; where it is random, it draws from the generator it is given, so a
dataset built from a seed is the same on every machine.  All are numpy and
``scipy.ndimage`` (array in, array out), applied to a whole group at once.

* ``rotate``: the rotated-digits groups (ARM's rotated MNIST: one angle per group);
* ``CORRUPTIONS``: the digits-C groups, after CIFAR-10-C (Hendrycks &
  Dietterich, ICLR 2019): noise, blur, digital and weather-like corruptions,
  each at 5 severities of growing strength;
* ``writer_style``: the writer groups (a FEMNIST analogue): a writer's slant,
  size, stroke width and ink, shared by every digit the writer draws.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image

try:
    from scipy import ndimage
except ImportError as error:  # scipy comes with scikit-learn, which the datasets need anyway
    raise ImportError("the group-shift datasets need scikit-learn (and its scipy): pip install 'polytask[supervised]'") from error

__all__ = ["CORRUPTIONS", "SEVERITIES", "corrupt", "rotate", "upsample", "writer_style", "WriterStyle"]

SEVERITIES = 5
Corruption = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]


def upsample(images: np.ndarray) -> np.ndarray:
    """scikit-learn's 8x8 digits (values 0-16) as 16x16 images in [0, 1], bilinear.

    At 8x8 a rotation or a one-pixel stroke change destroys the digit; at 16x16
    the shifts act on shapes, as they do on MNIST's 28x28.
    """
    return np.clip(ndimage.zoom(images.astype(np.float32) / 16.0, (1, 2, 2), order=1), 0.0, 1.0)


def rotate(images: np.ndarray, degrees: float) -> np.ndarray:
    """Every image rotated by ``degrees`` counter-clockwise about its centre (bilinear, zero fill)."""
    if degrees == 0:
        return images.copy()
    return np.clip(ndimage.rotate(images, degrees, axes=(2, 1), reshape=False, order=1), 0.0, 1.0)


# ----------------------------------------------------------------- digits-C
def _pick(severity: int, values: tuple[float, ...]) -> float:
    if not 1 <= severity <= SEVERITIES:
        raise ValueError(f"severity must be in 1..{SEVERITIES}, got {severity}")
    return values[severity - 1]


def gaussian_noise(images, severity, rng):
    return images + rng.normal(0.0, _pick(severity, (0.08, 0.12, 0.18, 0.26, 0.38)), images.shape)


def shot_noise(images, severity, rng):
    photons = _pick(severity, (60, 25, 12, 5, 3))
    return rng.poisson(images * photons) / photons


def impulse_noise(images, severity, rng):
    amount = _pick(severity, (0.03, 0.06, 0.09, 0.17, 0.27))
    out = images.copy()
    hit = rng.random(images.shape) < amount
    out[hit] = rng.integers(0, 2, hit.sum())  # salt or pepper, half each
    return out


def gaussian_blur(images, severity, rng):
    return ndimage.gaussian_filter(images, (0, *(2 * (_pick(severity, (0.5, 0.7, 0.9, 1.1, 1.4)),))))


def defocus_blur(images, severity, rng):
    radius = _pick(severity, (1.0, 1.5, 2.0, 2.5, 3.0))
    span = int(np.ceil(radius))
    yy, xx = np.mgrid[-span : span + 1, -span : span + 1]
    disk = (xx**2 + yy**2 <= radius**2).astype(np.float32)
    return ndimage.convolve(images, (disk / disk.sum())[None], mode="constant")


def motion_blur(images, severity, rng):
    length = int(_pick(severity, (2, 3, 4, 5, 7)))
    angle = rng.uniform(-45, 45)  # one direction per group: the camera moved once
    kernel = np.zeros((2 * length + 1, 2 * length + 1), np.float32)
    kernel[length, length:] = 1.0
    kernel = ndimage.rotate(kernel, angle, reshape=False, order=1)
    return ndimage.convolve(images, (kernel / kernel.sum())[None], mode="constant")


def contrast(images, severity, rng):
    factor = _pick(severity, (0.5, 0.35, 0.25, 0.15, 0.08))
    means = images.mean(axis=(1, 2), keepdims=True)
    return (images - means) * factor + means


def brightness(images, severity, rng):
    return images + _pick(severity, (0.15, 0.3, 0.45, 0.6, 0.75))


def pixelate(images, severity, rng):
    size = int(_pick(severity, (12, 10, 8, 6, 5)))
    small = ndimage.zoom(images, (1, size / 16, size / 16), order=1)
    return ndimage.zoom(small, (1, 16 / small.shape[1], 16 / small.shape[2]), order=0)


def jpeg(images, severity, rng):
    quality = int(_pick(severity, (30, 20, 14, 9, 5)))
    out = np.empty_like(images)
    for i, image in enumerate(images):
        buffer = io.BytesIO()
        Image.fromarray(np.uint8(np.clip(image, 0, 1) * 255)).save(buffer, "JPEG", quality=quality)
        out[i] = np.asarray(Image.open(buffer), np.float32) / 255
    return out


def elastic(images, severity, rng):
    alpha, sigma = _pick(severity, (1.0, 1.5, 2.0, 2.5, 3.0)), 1.5
    out = np.empty_like(images)
    yy, xx = np.mgrid[0:16, 0:16].astype(np.float32)
    for i, image in enumerate(images):  # a fresh smooth displacement field per image
        dy = ndimage.gaussian_filter(rng.uniform(-1, 1, (16, 16)), sigma) * alpha / 0.25
        dx = ndimage.gaussian_filter(rng.uniform(-1, 1, (16, 16)), sigma) * alpha / 0.25
        out[i] = ndimage.map_coordinates(image, (yy + dy, xx + dx), order=1, mode="constant")
    return out


def fog(images, severity, rng):
    strength = _pick(severity, (0.25, 0.4, 0.55, 0.7, 0.85))
    coarse = rng.random((images.shape[0], 4, 4))
    haze = ndimage.zoom(coarse, (1, 4, 4), order=3)  # low-frequency haze, different per image
    return images * (1 - 0.3 * strength) + strength * haze


def zoom(images, severity, rng):
    scale = _pick(severity, (1.15, 1.3, 1.45, 1.6, 1.8))
    grown = ndimage.zoom(images, (1, scale, scale), order=1)
    start = (grown.shape[1] - 16) // 2
    return grown[:, start : start + 16, start : start + 16]


def spatter(images, severity, rng):
    drops = int(_pick(severity, (2, 3, 4, 6, 8)))
    out = images.copy()
    yy, xx = np.mgrid[0:16, 0:16]
    for i in range(images.shape[0]):
        for _ in range(drops):
            cy, cx, radius = rng.uniform(0, 16), rng.uniform(0, 16), rng.uniform(0.8, 2.0)
            out[i][(yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2] = rng.uniform(0.5, 1.0)
    return out


#: name -> corruption; the digits-C dataset trains on some and tests on the others
CORRUPTIONS: dict[str, Corruption] = {
    fn.__name__: fn
    for fn in (gaussian_noise, shot_noise, impulse_noise, gaussian_blur, defocus_blur, motion_blur, contrast,
               brightness, pixelate, jpeg, elastic, fog, zoom, spatter)
}


def corrupt(images: np.ndarray, name: str, severity: int, rng: np.random.Generator) -> np.ndarray:
    """``images`` under corruption ``name`` at ``severity`` (1-5), clipped to [0, 1]."""
    return np.clip(CORRUPTIONS[name](images, severity, rng), 0.0, 1.0).astype(np.float32)


# ----------------------------------------------------------------- writers
class WriterStyle:
    """One writer's hand: slant (shear), size (scale), stroke width and ink intensity, drawn from ``rng``."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.slant = float(rng.uniform(-0.5, 0.5))
        self.scale = float(rng.uniform(0.7, 1.15))
        self.stroke = int(rng.integers(-1, 3))  # -1 thin, 0 as drawn, 1-2 thicker
        self.ink = float(rng.uniform(0.45, 1.0))

    def describe(self) -> str:
        return f"slant {self.slant:+.2f}, scale {self.scale:.2f}, stroke {self.stroke:+d}, ink {self.ink:.2f}"


def writer_style(images: np.ndarray, style: WriterStyle) -> np.ndarray:
    """``images`` as ``style``'s writer would draw them: sheared, scaled about the centre, stroked, inked."""
    # output pixel (y, x) samples input at centre + A^-1 (p - centre): a shear of x by y, then a scale
    inverse = np.array([[1.0, 0.0], [-style.slant, 1.0]]) / style.scale
    centre = np.array([7.5, 7.5])
    offset = centre - inverse @ centre
    matrix = np.zeros((3, 3))
    matrix[0, 0], matrix[1:, 1:] = 1.0, inverse
    out = ndimage.affine_transform(images, matrix, offset=(0.0, *offset), order=1, mode="constant")
    if style.stroke > 0:
        out = ndimage.grey_dilation(out, size=(1, style.stroke + 1, style.stroke + 1))
    elif style.stroke < 0:
        out = out**2  # thin: faint stroke edges fade out
    return np.clip(out * style.ink, 0.0, 1.0).astype(np.float32)
