"""Generate tests/golden/layer_args.json from PyTorch itself (run by hand; torch is never a
test dependency):

    /work/torchvenv/bin/python tests/golden/make_layer_args.py

For layer texts with typos, wrong types and degenerate values (issue 15), records what
PyTorch does: the parameter count when it builds the layer and runs it on the given input,
or the stage (construct / forward) and the exception when it refuses. The text is
evaluated as Python with torch.nn in scope and the bare words a printed repr may contain
(inf, nan, same, valid); any other bare word (``false``) is a NameError, as in PyTorch.
"""

import json
import math
from pathlib import Path

import torch
import torch.nn as nn

# (layer text, input shape for one forward call or None)
CASES = [
    ("Conv2d(3, 5, 3, bias=false)", None),
    ("Conv2d(3, 5, 3, bias=False)", None),
    ("Conv2d(3, 5, 3, bias=0)", None),
    ("Conv2d(3, 5, 3, bias=1)", None),
    ("BatchNorm2d(64, affine=false)", None),
    ("BatchNorm2d(64, affine=False)", None),
    ("BatchNorm2d(64, momentum=None)", None),
    ("Conv2d(3, 5, 3, stride='foo')", (1, 3, 8, 8)),
    ("Conv2d(3, 5, 3, stride=foo)", None),
    ("Linear(4.0, 2)", None),
    ("Linear(4, 2)", None),
    ("Linear(9223372036854775808, 2)", None),
    ("Conv2d(3, 6, 3, groups=True)", (1, 3, 8, 8)),
    ("Linear(True, 2)", (1, 1)),
    ("AdaptiveAvgPool2d(2.5)", (1, 1, 4, 4)),
    ("AdaptiveAvgPool2d((2, None))", (1, 1, 4, 4)),
    ("AdaptiveAvgPool2d(0)", (1, 1, 4, 4)),
    ("MultiheadAttention(8, 2, kdim=4.5)", None),
    ("MultiheadAttention(8, 2, kdim=4)", None),
    ("MultiheadAttention(8, 3)", None),
    ("PixelShuffle(upscale_factor=0)", (1, 4, 2, 2)),
    ("PixelShuffle(upscale_factor=2)", (1, 4, 2, 2)),
    ("PixelUnshuffle(0)", (1, 1, 4, 4)),
    ("Upsample(scale_factor=0.0)", (1, 1, 2, 2)),
    ("Upsample(scale_factor=nan)", (1, 1, 2, 2)),
    ("Upsample(scale_factor=-2.0)", (1, 1, 2, 2)),
    ("Upsample(scale_factor=2.0, mode='nearest')", (1, 1, 2, 2)),
    ("Upsample(scale_factor=2, mode='bilinear')", (1, 1, 2, 2)),
    ("Upsample(scale_factor=2, mode='bilinearr')", (1, 1, 2, 2)),
    ("Conv2d(3, 5, 0)", (1, 3, 8, 8)),
    ("Conv2d(3, 5, 3, padding_mode='zeroes')", None),
    ("Conv2d(3, 5, 3, padding='same', stride=2)", None),
    ("Conv2d(3, 5, 3, padding=same)", (1, 3, 8, 8)),
    ("Conv2d(3, 5, 3, padding='full')", None),
    ("Conv2d(3, 5, 3, padding=-1)", (1, 3, 8, 8)),
    ("ConvTranspose2d(3, 5, 3, padding='same')", (1, 3, 8, 8)),
    ("ConvTranspose2d(3, 5, 3, padding_mode='reflect')", None),
    ("Conv2d(3, 6, 3, groups=2)", None),
    ("Conv2d(3, 6, 3, groups=0)", None),
    ("Conv2d(-1, 6, 3)", None),
    ("Conv2d(0, 6, 3)", None),
    ("Dropout(p=1.5)", None),
    ("Dropout(p=nan)", None),
    ("Dropout(0.5)", None),
    ("LSTM(10, 20, dropout=2)", None),
    ("LSTM(10, 20, num_layers=0)", None),
    ("LSTM(10, 20, proj_size=20)", None),
    ("LSTM(10, 20, proj_size=5, num_layers=3, bidirectional=True)", None),
    ("RNN(10, 20, nonlinearity='sigmoid')", None),
    ("RNN(10, 20, nonlinearity='relu', num_layers=2)", None),
    ("GRU(10, 20, num_layers=65)", None),
    ("LSTM(10, 20, num_layers=65, bidirectional=True)", None),
    ("GroupNorm(3, 4)", None),
    ("GroupNorm(2, 4, affine=false)", None),
    ("Embedding(10, 3, padding_idx=10)", None),
    ("Embedding(10, 3, padding_idx=-10)", None),
    ("Embedding(10, 3, padding_idx=-11)", None),
    ("Hardtanh(min_val=1.0, max_val=-1.0)", None),
    ("MaxPool2d(2, padding=2)", (1, 1, 8, 8)),
    ("MaxPool2d(2, stride=0)", (1, 1, 8, 8)),
    ("AvgPool2d(2, divisor_override=0)", (1, 1, 8, 8)),
    ("Softmax(dim=1.5)", (1, 4)),
    ("LeakyReLU(negative_slope='a')", (1, 4)),
    ("ZeroPad2d((1, 1))", (1, 1, 4, 4)),
    ("ZeroPad2d((1, 1, 2))", (1, 1, 4, 4)),
    ("ZeroPad2d(-1)", (1, 1, 4, 4)),
    ("LayerNorm((4, 4.0))", None),
    ("PReLU(num_parameters=0.5)", None),
    ("Bilinear(2, 3, 4.5)", None),
    ("InstanceNorm2d(4, affine=True)", None),
    ("EmbeddingBag(10, 3, mode='median')", (1, 2)),
    ("GELU(approximate='fast')", (1, 4)),
    ("Flatten(start_dim=1.0)", (1, 4)),
]

NAMES = {"nn": nn, "inf": math.inf, "nan": math.nan, "same": "same", "valid": "valid"}


def outcome(text: str, shape: tuple[int, ...] | None) -> dict[str, object]:
    try:
        layer = eval(f"nn.{text}", dict(NAMES))
    except Exception as exc:  # noqa: BLE001 - any refusal is the answer
        return {"params": None, "stage": "construct", "error": f"{type(exc).__name__}: {exc}"}
    params = sum(p.numel() for p in layer.parameters())
    if shape is not None:
        try:
            if isinstance(layer, nn.EmbeddingBag):
                layer(torch.zeros(shape, dtype=torch.long))
            else:
                layer(torch.zeros(shape))
        except Exception as exc:  # noqa: BLE001
            return {"params": None, "stage": "forward", "error": f"{type(exc).__name__}: {exc}"}
    return {"params": params, "stage": None, "error": None}


def main() -> None:
    cases = [
        {"text": text, "input": None if shape is None else list(shape), **outcome(text, shape)}
        for text, shape in CASES
    ]
    # A stack too deep to build is checked by its arithmetic: the count grows by the same
    # amount with every layer after the first.
    stacks = {}
    for text in ("LSTM(10, 20, num_layers={})", "GRU(7, 3, num_layers={}, bidirectional=True)",
                 "RNN(5, 4, num_layers={}, bias=False)",
                 "LSTM(6, 8, num_layers={}, proj_size=3)"):
        counts = [sum(p.numel() for p in eval("nn." + text.format(n), dict(NAMES)).parameters())
                  for n in (1, 2, 3)]
        stacks[text] = counts
    out = {"torch": torch.__version__, "cases": cases, "stacks": stacks}
    path = Path(__file__).with_name("layer_args.json")
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"{len(cases)} cases -> {path}")


if __name__ == "__main__":
    main()
