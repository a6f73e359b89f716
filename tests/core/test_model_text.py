"""The repr parser takes text as people paste it."""

from __future__ import annotations

import pytest

from cnncli import zoo
from cnncli.core.errors import UserError
from cnncli.core.model_text import MAX_DEPTH, parse_model

RESNET18 = zoo.builtin("resnet18").text


def _paths(text: str) -> list[tuple[str, str]]:
    return [(m.path, m.kind) for m in parse_model(text).walk()]


@pytest.mark.parametrize(
    "pasted",
    [
        RESNET18.replace("\n", "\r\n"),
        RESNET18.replace("  ", "\t"),
        "\n".join("    " + line + "   " for line in RESNET18.splitlines()),
        ">>> print(model)\n" + RESNET18,
        "In [3]: print(model)\n" + RESNET18,
        "Out[3]: " + RESNET18,
        "\n\n" + RESNET18 + "\n\n",
    ],
)
def test_pasted_variants_parse_to_the_same_tree(pasted: str) -> None:
    assert _paths(pasted) == _paths(RESNET18)


def test_a_truncated_paste_names_where_it_stops() -> None:
    lines = RESNET18.splitlines()[:30]
    with pytest.raises(UserError) as caught:
        parse_model("\n".join(lines))
    assert "ends at line 30" in caught.value.message
    assert "cut off" in str(caught.value.hint)


def test_norm_act_layers_keep_their_arguments_and_children() -> None:
    text = (
        "Net(\n  (bn1): BatchNormAct2d(\n    32, eps=1e-05, momentum=0.1, affine=True, "
        "track_running_stats=True\n    (drop): Identity()\n    (act): ReLU(inplace=True)\n  )\n)"
    )
    bn = parse_model(text).children[0]
    assert bn.kind == "BatchNormAct2d"
    assert bn.layer is not None and bn.layer.kind == "BatchNorm2d"
    assert bn.layer.integer("num_features") == 32
    assert [c.path for c in bn.children] == ["bn1.drop", "bn1.act"]


def test_plain_layer_lines_form_one_sequence() -> None:
    model = parse_model("Conv2d(3, 16, 3)\nConv2d(16, 32, 3)\nLinear(100, 10)\n")
    assert model.kind == "Sequential"
    assert [c.kind for c in model.children] == ["Conv2d", "Conv2d", "Linear"]


def test_repeated_modules_get_their_own_paths() -> None:
    text = "Net(\n  (blocks): ModuleList(\n    (0-1): 2 x Block(\n      (fc): Linear(4, 4)\n    )\n  )\n)"
    assert [p for p, _ in _paths(text)] == [
        "", "blocks", "blocks.0", "blocks.0.fc", "blocks.1", "blocks.1.fc"
    ]  # fmt: skip


def test_unknown_classes_keep_their_text() -> None:
    model = parse_model("Net(\n  (sd): StochasticDepth(p=0.1, mode=row)\n)")
    assert model.children[0].layer is None
    assert model.children[0].text == "p=0.1, mode=row"


def test_nesting_deeper_than_the_limit_is_refused_not_a_crash() -> None:
    depth = MAX_DEPTH + 5
    text = "".join(f"{'  ' * i}({i}): Sequential(\n" for i in range(depth))
    text = "Sequential(\n" + text + ")\n" * (depth + 1)
    with pytest.raises(UserError, match="nested deeper than"):
        parse_model(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "Sequential(\n  (0): Linear(in_features=4, out_features=4, bias=True)\n"
            "  (0): Linear(in_features=4, out_features=5, bias=True)\n)",
            "line 3: Sequential has two children named (0) (lines 2 and 3)",
        ),
        (
            "Net(\n  (layer2): Sequential(\n    (0): ReLU()\n  )\n"
            "  (fc): Linear(in_features=4, out_features=4, bias=True)\n"
            "  (layer2): Sequential(\n    (0): ReLU()\n  )\n)",
            "line 6: Net has two children named (layer2) (lines 2 and 6)",
        ),
    ],
    ids=["two leaves", "two blocks"],
)
def test_a_child_name_given_twice_is_refused(text: str, message: str) -> None:
    """PyTorch keys children by name: a name printed twice means the text was edited, and
    its totals would count a module PyTorch cannot hold."""
    with pytest.raises(UserError) as refused:
        parse_model(text)
    assert refused.value.message == message
