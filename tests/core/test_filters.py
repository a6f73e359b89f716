"""Core filters against the seed's float64 scipy formulas: at most 1 grey level off, anywhere."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cnncli.core.depth import quantize
from cnncli.core.edges import gradient, sobel
from cnncli.core.errors import UserError
from cnncli.core.smoothing import gaussian_smooth
from cnncli.core.strips import strip_bounds
from cnncli.imageio import sample_path
from tests.reference import max_abs_diff, seed_gradient, seed_smooth, seed_sobel

RNG = np.random.default_rng(7)
SAMPLE_L = np.asarray(Image.open(sample_path()).convert("L"))
SAMPLE_RGB = np.asarray(Image.open(sample_path()).convert("RGB"))

GRAY_CASES = {
    "sample": SAMPLE_L,
    "noise_odd": RNG.integers(0, 256, (37, 53)).astype(np.uint8),
    "one_by_one": np.array([[77]], dtype=np.uint8),
    "one_row": RNG.integers(0, 256, (1, 9)).astype(np.uint8),
    "one_column": RNG.integers(0, 256, (9, 1)).astype(np.uint8),
    "tall": RNG.integers(0, 256, (301, 7)).astype(np.uint8),
}


@pytest.mark.parametrize("name", sorted(GRAY_CASES))
@pytest.mark.parametrize("jobs", [1, 3])
def test_sobel_and_gradient_match_the_seed(name: str, jobs: int) -> None:
    image = GRAY_CASES[name]
    assert max_abs_diff(quantize(sobel(image, jobs=jobs).image, 8), seed_sobel(image)) <= 1
    assert max_abs_diff(quantize(gradient(image, jobs=jobs).image, 8), seed_gradient(image)) <= 1


def test_sixteen_bit_edges_scale_to_65535() -> None:
    image = (RNG.random((64, 80)) * 65535).astype(np.uint16)
    got = quantize(sobel(image, out_max=65535).image, 16)
    assert got.dtype == np.uint16
    assert got.max() == 65535
    assert max_abs_diff(got, seed_sobel(image, 65535)) <= 1


def test_flat_image_gives_black_not_nan() -> None:
    flat = np.full((20, 30), 128, dtype=np.uint8)
    for kernel in (sobel, gradient):
        result = kernel(flat).image
        assert not np.isnan(result).any()
        assert result.max() == 0


def test_uint8_input_is_filtered_in_float_not_in_uint8() -> None:
    from scipy import ndimage

    step = np.zeros((8, 8), dtype=np.uint8)
    step[:, 4:] = 255
    # The trap: ndimage.sobel on uint8 wraps around silently.
    assert not np.array_equal(ndimage.sobel(step, 1), ndimage.sobel(step.astype(float), 1))
    assert max_abs_diff(quantize(sobel(step).image, 8), seed_sobel(step)) <= 1


@pytest.mark.parametrize("output", ["x", "y"])
def test_signed_outputs_follow_scipy_signs(output: str) -> None:
    from scipy import ndimage

    image = SAMPLE_L[:60, :80]
    axis = 1 if output == "x" else 0
    raw = ndimage.sobel(image.astype("float64"), axis)
    got = sobel(image, output=output, normalize=False, out_max=65535).image
    # raw values offset to mid-range (32768) and clipped; Sobel of 8-bit stays within range
    assert max_abs_diff(got - 32768, raw) <= 1e-3


def test_angle_is_atan2_mapped_to_range() -> None:
    from scipy import ndimage

    image = SAMPLE_L[:50, :50].astype("float64")
    expected = (
        (np.arctan2(ndimage.sobel(image, 0), ndimage.sobel(image, 1)) + np.pi) * 255 / (2 * np.pi)
    )
    assert max_abs_diff(sobel(SAMPLE_L[:50, :50], output="angle").image, expected) <= 1e-3


def test_no_normalize_clips_and_reports_it() -> None:
    step = np.zeros((8, 8), dtype=np.uint8)
    step[:, 4:] = 255
    result = sobel(step, normalize=False)
    assert result.clipped
    assert result.image.max() == 255
    calm = sobel(np.full((4, 4), 3, dtype=np.uint8), normalize=False)
    assert not calm.clipped


def test_unknown_output_is_refused() -> None:
    with pytest.raises(UserError, match="unknown output"):
        sobel(SAMPLE_L, output="phase")


@pytest.mark.parametrize("sigma", [(0.5,), (2.0,), (3.0, 1.0)])
@pytest.mark.parametrize("mode", ["reflect", "nearest", "mirror", "constant", "wrap"])
def test_smoothing_matches_gaussian_filter(sigma: tuple[float, ...], mode: str) -> None:
    image = SAMPLE_RGB[:120, :90]
    got = gaussian_smooth(image, sigma, mode=mode, jobs=4)
    s = sigma if len(sigma) == 2 else sigma[0]
    for c in range(3):
        expected = seed_smooth(image[:, :, c], s, mode=mode)  # type: ignore[arg-type]
        assert max_abs_diff(quantize(got[:, :, c], 8), expected) <= 1


def test_smoothing_strips_give_the_whole_image_result() -> None:
    image = RNG.integers(0, 256, (257, 31)).astype(np.uint8)
    one = gaussian_smooth(image, (3.0,), jobs=1)
    many = gaussian_smooth(image, (3.0,), jobs=7)
    assert np.array_equal(one, many)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"sigma": (0.0,)}, "sigma must be positive"),
        ({"sigma": (-1.0,)}, "sigma must be positive"),
        ({"sigma": (1.0, 2.0, 3.0)}, "one value or one per axis"),
        ({"mode": "bogus"}, "unknown mode"),
        ({"truncate": 0.0}, "truncate must be positive"),
    ],
)
def test_smoothing_refuses_bad_options(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(UserError, match=fragment):
        gaussian_smooth(SAMPLE_L, **kwargs)  # type: ignore[arg-type]


def test_strip_bounds_cover_every_row_once() -> None:
    for height in (1, 2, 7, 100, 1001):
        for jobs in (1, 2, 5):
            bounds = strip_bounds(height, 50, jobs, min_rows=3)
            rows = [r for start, stop in bounds for r in range(start, stop)]
            assert rows == list(range(height))


@pytest.mark.parametrize("shape", [(37, 53), (301, 7), (20, 30, 3), (1, 9)])
@pytest.mark.parametrize("bits", [8, 16])
def test_quantize_in_row_blocks_equals_whole_array_rounding(monkeypatch, shape, bits) -> None:
    import cnncli.core.depth as depth

    top = 65535 if bits == 16 else 255
    values = (RNG.random(shape) * (top + 2) - 1).astype(np.float32)
    values.flat[:4] = [0.5, 1.5, 2.5, -0.4]  # ties round to even, as np.rint does
    expected = np.clip(np.rint(values), 0, top).astype(np.uint16 if bits == 16 else np.uint8)
    monkeypatch.setattr(depth, "_QUANTIZE_BLOCK", 40)  # many blocks, some of one row
    assert np.array_equal(quantize(values, bits), expected)


@pytest.mark.parametrize("output", ["x", "y"])
def test_signed_outputs_normalise_by_the_largest_absolute_value(output: str) -> None:
    from scipy import ndimage

    image = SAMPLE_L[:60, :80]
    raw = ndimage.sobel(image.astype("float64"), 1 if output == "x" else 0)
    expected = raw * (127.5 / np.max(np.abs(raw))) + 127.5
    assert max_abs_diff(sobel(image, output=output).image, expected) <= 1e-3


# ------------------------------------------------ strips and two passes vs one pass ---

# 257 rows over 7 strips: six of 37 rows and a last one of 35 (not a multiple of the strip).
ODD_TALL = RNG.integers(0, 256, (257, 31)).astype(np.uint8)


def _one_pass_edges(image: np.ndarray, derivatives, bits: int) -> np.ndarray:
    """The one-pass recipe on the whole image at once: float32 magnitude, 255 / max, rint."""
    from cnncli.core.strips import edge_padded_rows

    dy, dx = derivatives(edge_padded_rows(image, 0, image.shape[0]))
    magnitude = np.sqrt(dy * dy + dx * dx)
    top = 65535 if bits == 16 else 255
    magnitude *= np.float32(top / float(magnitude.max()))
    return np.clip(np.rint(magnitude), 0, top).astype(np.uint16 if bits == 16 else np.uint8)


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("keep", [True, False])
def test_two_pass_strips_give_the_one_pass_bytes(monkeypatch, bits: int, keep: bool) -> None:
    """Small planes keep their first pass's values; large ones compute them again."""
    import cnncli.core.edges as edges
    from cnncli.core.edges import CENTRAL_DIFFERENCE, SOBEL

    monkeypatch.setattr(edges, "_KEEP_PIXELS", ODD_TALL.size if keep else 0)

    out = np.empty(ODD_TALL.shape, dtype=np.uint16 if bits == 16 else np.uint8)
    for kernel, derivatives in (
        (sobel, SOBEL.derivatives),
        (gradient, CENTRAL_DIFFERENCE.derivatives),
    ):
        expected = _one_pass_edges(ODD_TALL, derivatives, bits)
        assert len(strip_bounds(257, 31, 7)) == 7
        kernel(ODD_TALL, jobs=7, out=out)
        assert np.array_equal(out, expected)


def test_smoothing_strips_rounded_into_the_output_give_the_one_pass_bytes() -> None:
    one_pass = quantize(gaussian_smooth(ODD_TALL, (3.0,), jobs=1), 8)  # one strip: whole image
    out = np.empty(ODD_TALL.shape, dtype=np.uint8)
    gaussian_smooth(ODD_TALL, (3.0,), jobs=7, out=out)
    assert np.array_equal(out, one_pass)


@pytest.mark.parametrize("output", ["magnitude", "x", "y", "angle"])
@pytest.mark.parametrize("normalize", [True, False])
def test_integer_output_is_the_float_output_rounded(output: str, normalize: bool) -> None:
    image = SAMPLE_L[:101, :77]
    floats = sobel(image, output=output, normalize=normalize, jobs=3)
    out = np.empty(image.shape, dtype=np.uint8)
    ints = sobel(image, output=output, normalize=normalize, jobs=5, out=out)
    assert ints.image is out and ints.clipped == floats.clipped
    assert np.array_equal(out, quantize(floats.image, 8))


def test_channels_are_written_into_one_output_in_place() -> None:
    rgb = SAMPLE_RGB[:64, :48]
    out = np.zeros((64, 48, 4), dtype=np.uint8)
    sobel(rgb, jobs=2, out=out[:, :, :3])
    gaussian_smooth(rgb[:, :, :1], (2.0,), out=out[:, :, 3:])
    for c in range(3):
        assert max_abs_diff(out[:, :, c], seed_sobel(rgb[:, :, c])) <= 1
    assert max_abs_diff(out[:, :, 3], seed_smooth(rgb[:, :, 0], 2.0)) <= 1


def test_smoothing_scale_changes_the_bit_depth() -> None:
    out = np.empty(ODD_TALL.shape, dtype=np.uint16)
    gaussian_smooth(ODD_TALL, (1.5,), out=out, scale=257.0)
    assert max_abs_diff(out, seed_smooth(ODD_TALL, 1.5) * 257) <= 1


@pytest.mark.parametrize("mode", ["reflect", "nearest", "mirror", "constant", "wrap"])
@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (3, 5), (6, 2)])
def test_smoothing_images_smaller_than_the_kernel(mode: str, shape: tuple[int, int]) -> None:
    """scipy reflects (or wraps) again and again when the kernel is wider than the image."""
    from scipy import ndimage

    image = RNG.integers(0, 256, shape).astype(np.uint8)
    expected = ndimage.gaussian_filter(image.astype("float64"), (5.0, 3.0), mode=mode, cval=9.0)
    got = gaussian_smooth(image, (5.0, 3.0), mode=mode, cval=9.0, jobs=3)
    assert max_abs_diff(got, expected) <= 1e-3


@pytest.mark.parametrize("width", [1, 31, 32, 33, 95])
def test_smoothing_ignores_whatever_its_reused_work_arrays_held(width: int) -> None:
    """Work arrays are reused from strip to strip: stale NaNs in them must change nothing,
    including in the columns past the last full tile of the horizontal pass."""
    from cnncli.core.strips import _SCRATCH

    image = RNG.integers(0, 256, (150, width)).astype(np.uint8)
    expected = seed_smooth(image, 2.0)
    gaussian_smooth(image, (2.0,), jobs=1)  # this thread now holds the work arrays
    arrays = _SCRATCH.__dict__["arrays"]
    for name in list(arrays):
        arrays[name] = np.full(arrays[name].size * 4, np.nan, dtype=np.float32)
    got = gaussian_smooth(image, (2.0,), jobs=1)
    assert max_abs_diff(got, expected) <= 1e-3


def test_smoothing_in_thin_strips_gives_the_one_strip_bytes(monkeypatch) -> None:
    """Five strips of 48 rows (three row tiles) and a last one of 17."""
    import cnncli.core.smoothing as smoothing

    one_strip = gaussian_smooth(ODD_TALL, (3.0,), jobs=1)
    monkeypatch.setattr(smoothing, "_MIN_STRIP_ROWS", 1)
    assert [b - a for a, b in strip_bounds(257, 31, 7, align=16)] == [48] * 5 + [17]
    out = np.empty(ODD_TALL.shape, dtype=np.float32)
    gaussian_smooth(ODD_TALL, (3.0,), jobs=7, out=out)
    assert np.array_equal(out, one_strip)


def test_a_wide_kernel_is_gathered_a_few_rows_at_a_time(monkeypatch) -> None:
    """Sigma 20: each column tile takes 32 + 160 columns; the rows go in groups of one or
    two (a tiny gathering limit) and give scipy's result all the same."""
    import cnncli.core.smoothing as smoothing

    image = RNG.integers(0, 256, (90, 250)).astype(np.uint8)
    monkeypatch.setattr(smoothing, "_GATHER_FLOATS", 8 * 192 + 1)
    got = gaussian_smooth(image, (20.0,), jobs=2)
    assert max_abs_diff(got, seed_smooth(image, 20.0)) <= 1e-3
