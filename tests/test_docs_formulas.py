"""The worked examples on docs/formulas.md agree with the calculator core.

The expected values are the page's, each checked by hand and, where PyTorch has an answer,
against PyTorch 2.13 when the page was written; if the core or the page changes, one of
them is wrong.
"""

from __future__ import annotations

from cnncli import zoo
from cnncli.core.outsize import (
    Window,
    adaptive_windows,
    conv_output_size,
    pool_output_size,
    same_padding,
    transposed_output_size,
)
from cnncli.core.summary import parse_model, summarize


def test_alexnet_first_conv() -> None:
    assert conv_output_size(224, 11, stride=4, padding=2) == 55


def test_same_padding_puts_the_extra_element_on_the_right() -> None:
    assert same_padding(4) == (1, 2)
    assert conv_output_size(10, 4, padding="same") == 10


def test_ceil_mode_drops_a_window_that_starts_in_the_right_padding() -> None:
    assert pool_output_size(4, 2, stride=3, padding=1, ceil_mode=True) == 2
    assert pool_output_size(4, 2, stride=3, padding=1, ceil_mode=False) == 2


def test_ceil_mode_keeps_a_partial_last_window() -> None:
    assert pool_output_size(5, 2, stride=2, ceil_mode=True) == 3
    assert pool_output_size(5, 2, stride=2) == 2


def test_output_padding_undoes_the_ambiguity_of_a_strided_conv() -> None:
    assert conv_output_size(13, 3, stride=2, padding=1) == 7
    assert conv_output_size(14, 3, stride=2, padding=1) == 7
    assert transposed_output_size(7, 3, stride=2, padding=1, output_padding=1) == 14


def test_adaptive_windows_overlap_and_differ_in_length() -> None:
    spans = [(0, 1), (0, 2), (1, 3), (2, 4), (3, 4)]
    assert adaptive_windows(4, 5) == [Window(a, b) for a, b in spans]
    assert adaptive_windows(5, 3) == [Window(0, 2), Window(1, 4), Window(3, 5)]


def test_adaptive_average_of_the_counterexample() -> None:
    values = [1.0, 2.0, 4.0, 8.0]
    means = [sum(values[w.start : w.end]) / (w.end - w.start) for w in adaptive_windows(4, 5)]
    assert means == [1.0, 1.5, 3.0, 6.0, 8.0]


def test_macs_of_alexnet_first_conv() -> None:
    layer = parse_model("Conv2d(3, 64, kernel_size=11, stride=4, padding=2)")
    assert summarize(layer, (3, 224, 224)).rows[0].macs == 1 * 64 * 55 * 55 * 3 * 11 * 11
    assert 1 * 64 * 55 * 55 * 3 * 11 * 11 == 70_276_800


def test_receptive_field_recurrence_with_dilation_and_adaptive_pooling() -> None:
    model = parse_model(
        "Sequential(\n"
        "  (0): Conv2d(3, 4, kernel_size=(3, 3), stride=(2, 2), dilation=(2, 2))\n"
        "  (1): AdaptiveAvgPool2d(output_size=(2, 3))\n"
        ")"
    )
    conv, pool = summarize(model, (3, 10, 10)).rows
    assert (conv.receptive_field, conv.jump) == ((5.0, 5.0), (2.0, 2.0))  # k' = 2*(3-1)+1
    # 3 -> 2: widest window 2, stride 3/2; 3 -> 3: window 1, stride 1
    assert (pool.receptive_field, pool.jump) == ((7.0, 5.0), (3.0, 2.0))


def test_resnet18_receptive_field_is_435() -> None:
    source = zoo.builtin("resnet18")
    rows = summarize(parse_model(source.text), source.default_input or ()).rows
    field = {r.path: r.receptive_field for r in rows}  # the block's last call: its output
    assert field["layer4.1.relu"] == (435.0, 435.0)
