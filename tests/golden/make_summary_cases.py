"""Golden data for `summary` edge cases, generated from PyTorch itself.

    /work/torchvenv/bin/python tests/golden/make_summary_cases.py

Each case is a model (a small one written out here, or a torchvision or timm model) at an
input size where an earlier cnncli went wrong: a Linear on a 3-d tensor inside a
Sequential, channels-last blocks at small sizes (torchvision Swin and ConvNeXt), models that
hold nn.Parameters a repr does not show, AvgPool layers whose ceil_mode the repr does not
show, timm's ResNet-D shortcut at an odd size, and a ViT at a size it was not built for.
Models are built on the meta device in eval mode and run once on a batch of 1 with the
hooks of make_real_models.py. It writes tests/golden/summary_cases.json: per case the repr,
the input, and either what torch gives (total params, buffers, output shape, every leaf
call in order, MACs, the hidden tensors) or, where torch refuses the input, its error.

torch is never a runtime or test dependency of cnncli: this script runs in a throwaway venv.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_real_models as real  # noqa: E402  (defines torchvision's op schemas first)
import timm  # noqa: E402
import torchvision  # noqa: E402

OUT_JSON = Path(__file__).resolve().parent / "summary_cases.json"


class ScaledNet(nn.Module):
    """A custom net that holds an nn.Parameter of its own (printed nowhere)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.act = nn.ReLU()
        self.scale = nn.Parameter(torch.ones(8, 1, 1))

    def forward(self, x):
        return self.act(self.conv(x)) * self.scale


class Head(nn.Module):
    """One child and a bias of its own: the printed order is trivially right, the count not."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 10)
        self.offset = nn.Parameter(torch.zeros(10))

    def forward(self, x):
        return self.fc(torch.flatten(x, 1)) + self.offset


def small(name):
    return {
        "sequential_linear_3d": lambda: nn.Sequential(nn.Linear(8, 16), nn.ReLU()),
        "sequential_linear_4d": lambda: nn.Sequential(nn.Linear(8, 16), nn.GELU()),
        "scaled_net": ScaledNet,
        "head_with_offset": Head,
        "avgpool_ceil_true": lambda: nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.AvgPool2d(2, 2, ceil_mode=True)
        ),
        "avgpool_ceil_false": lambda: nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.AvgPool2d(2, 2, ceil_mode=False)
        ),
        # ceil_mode changes nothing here: PyTorch drops the last window, which would start
        # in the right padding
        "avgpool_ceil_corrected": lambda: nn.Sequential(
            nn.AvgPool2d(2, 2, padding=1, ceil_mode=True)
        ),
        "avgpool1d_ceil_true": lambda: nn.Sequential(nn.AvgPool1d(3, 2, ceil_mode=True)),
    }[name]


# (key, builder, per-sample input)
CASES = [
    ("sequential_linear_3d", ("small", "sequential_linear_3d"), [1, 8]),
    ("sequential_linear_4d", ("small", "sequential_linear_4d"), [1, 1, 8]),
    ("scaled_net", ("small", "scaled_net"), [3, 8, 8]),
    ("head_with_offset", ("small", "head_with_offset"), [16, 1, 1]),
    ("avgpool_ceil_true_7", ("small", "avgpool_ceil_true"), [3, 7, 7]),
    ("avgpool_ceil_false_7", ("small", "avgpool_ceil_false"), [3, 7, 7]),
    ("avgpool_ceil_true_8", ("small", "avgpool_ceil_true"), [3, 8, 8]),
    ("avgpool_ceil_corrected_5", ("small", "avgpool_ceil_corrected"), [3, 5, 5]),
    ("avgpool1d_ceil_true_8", ("small", "avgpool1d_ceil_true"), [2, 8]),
    ("swin_t_32", ("torchvision", "swin_t"), [3, 32, 32]),
    ("swin_t_5", ("torchvision", "swin_t"), [3, 5, 5]),
    ("swin_v2_t_31", ("torchvision", "swin_v2_t"), [3, 31, 31]),
    ("convnext_tiny_32", ("torchvision", "convnext_tiny"), [3, 32, 32]),
    ("convnext_tiny_31", ("torchvision", "convnext_tiny"), [3, 31, 31]),
    ("densenet121_233", ("torchvision", "densenet121"), [3, 233, 233]),
    ("vit_b_16_256", ("torchvision", "vit_b_16"), [3, 256, 256]),
    ("timm_resnet26d_233", ("timm", "resnet26d"), [3, 233, 233]),
    ("timm_seresnext26d_32x4d_233", ("timm", "seresnext26d_32x4d"), [3, 233, 233]),
    ("timm_densenet121_233", ("timm", "densenet121"), [3, 233, 233]),
    ("timm_nf_resnet50_233", ("timm", "nf_resnet50"), [3, 233, 233]),
    ("timm_beit_base_patch16_224", ("timm", "beit_base_patch16_224"), [3, 224, 224]),
    ("timm_cait_xxs24_224", ("timm", "cait_xxs24_224"), [3, 224, 224]),
    ("timm_convit_tiny", ("timm", "convit_tiny"), [3, 224, 224]),
    ("timm_pit_ti_224", ("timm", "pit_ti_224"), [3, 224, 224]),
    ("timm_xcit_nano_12_p16_224", ("timm", "xcit_nano_12_p16_224"), [3, 224, 224]),
]


def build(source, name):
    if source == "small":
        return small(name)()
    if source == "torchvision":
        return torchvision.models.get_model(name, weights=None)
    return timm.create_model(name, pretrained=False)


def case(key, source, name, shape):
    with torch.device("meta"):
        model = build(source, name)
        model.eval()
        entry = {
            "source": source,
            "model_name": name,
            "input": shape,
            "repr": repr(model),
            "total_params": sum(p.numel() for p in model.parameters()),
            "buffers": sum(b.numel() for b in model.buffers()),
            "hidden": real.hidden_tensors(model),
        }
        try:
            with torch.no_grad():
                recorded = real.record(model, torch.empty(1, *shape))
        except Exception as exc:  # torch refuses this input: the error is the golden answer
            entry["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            return entry
    recorded.pop("output_note", None)
    if not recorded["macs_functional_linear"]:
        del recorded["macs_functional_linear"]
    entry.update(recorded)
    return entry


def main():
    cases = {}
    for key, (source, name), shape in CASES:
        entry = case(key, source, name, shape)
        cases[key] = entry
        print(
            f"{key}: params={entry['total_params']} "
            f"{entry.get('error') or entry['output_shape']}",
            flush=True,
        )
    data = {
        "versions": {
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "timm": timm.__version__,
        },
        "macs_convention": real.MACS_CONVENTION,
        "shape_convention": real.SHAPE_CONVENTION,
        "cases": cases,
    }
    lines = ["{"]
    for field in ("versions", "macs_convention", "shape_convention"):
        lines.append(f"  {json.dumps(field)}: {json.dumps(data[field])},")
    lines.append('  "cases": {')
    for i, (key, entry) in enumerate(cases.items()):
        comma = "," if i < len(cases) - 1 else ""
        lines.append(f"    {json.dumps(key)}: {json.dumps(entry, separators=(',', ':'))}{comma}")
    lines.extend(["  }", "}"])
    OUT_JSON.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
