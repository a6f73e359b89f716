"""Generate tests/golden/shapes.json from PyTorch itself (run by hand; torch is never a test dependency).

    /tmp/torchenv/bin/python tests/golden/make_shapes.py

Every case runs the real layer on a (1, 1, lin) tensor and records the output length,
or the error torch raised. 1D is enough: each dimension of a 2D/3D layer is independent.
Adaptive windows are recovered from the argmax indices of adaptive_max_pool1d on
increasing and decreasing inputs (last and first index of each window).
"""

import json
import random
from pathlib import Path

import torch
import torch.nn.functional as F

random.seed(20261125)
torch.manual_seed(0)


def run(fn):
    try:
        return {"out": int(fn().shape[-1])}
    except Exception as exc:  # torch raises RuntimeError/ValueError for refused configs
        return {"out": None, "error": str(exc).splitlines()[0][:200]}


def conv_case(lin, k, s, p, d):
    x = torch.zeros(1, 1, lin)

    def f():
        layer = torch.nn.Conv1d(1, 1, k, stride=s, padding=p, dilation=d)
        return layer(x)

    return {"op": "conv", "lin": lin, "k": k, "s": s, "p": p, "d": d, **run(f)}


def transposed_case(lin, k, s, p, d, op):
    x = torch.zeros(1, 1, lin)

    def f():
        layer = torch.nn.ConvTranspose1d(1, 1, k, stride=s, padding=p, dilation=d, output_padding=op)
        return layer(x)

    return {"op": "transposed", "lin": lin, "k": k, "s": s, "p": p, "d": d, "output_padding": op, **run(f)}


def maxpool_case(lin, k, s, p, d, ceil):
    x = torch.zeros(1, 1, lin)
    return {"op": "maxpool", "lin": lin, "k": k, "s": s, "p": p, "d": d, "ceil": ceil,
            **run(lambda: F.max_pool1d(x, k, s, p, d, ceil_mode=ceil))}


def avgpool_case(lin, k, s, p, ceil):
    x = torch.zeros(1, 1, lin)
    return {"op": "avgpool", "lin": lin, "k": k, "s": s, "p": p, "d": 1, "ceil": ceil,
            **run(lambda: F.avg_pool1d(x, k, s, p, ceil_mode=ceil))}


def adaptive_case(lin, out):
    up = torch.arange(lin, dtype=torch.float64).reshape(1, 1, lin)
    try:
        _, last = F.adaptive_max_pool1d(up, out, return_indices=True)
        _, first = F.adaptive_max_pool1d(-up, out, return_indices=True)
    except Exception as exc:
        return {"op": "adaptive", "lin": lin, "out": None, "n": out, "error": str(exc).splitlines()[0][:200]}
    windows = [[int(a), int(b) + 1] for a, b in zip(first.flatten(), last.flatten())]
    return {"op": "adaptive", "lin": lin, "n": out, "out": len(windows), "windows": windows}


cases = []
# Edges first: the classic traps.
cases.append(conv_case(224, 11, 4, 2, 1))  # AlexNet conv1 -> 55
for lin in (1, 2, 3, 5, 7, 8):
    for k in (1, 2, 3, 4):
        for p in (0, 1, 2):
            for ceil in (False, True):
                for s in (1, 2, 3):
                    cases.append(maxpool_case(lin, k, s, p, 1, ceil))
                    cases.append(avgpool_case(lin, k, s, p, ceil))
for lin in (1, 4, 5, 9):
    for k in (1, 2, 3, 4, 5):
        for d in (1, 2, 3):
            for p in ("same", "valid"):
                for s in (1, 2):
                    cases.append(conv_case(lin, k, s, p, d))
for lin in (1, 3, 5):
    for s in (1, 2, 3):
        for d in (1, 2, 3):
            for op in (0, 1, 2, 3):
                cases.append(transposed_case(lin, 3, s, 1, d, op))
for lin in range(1, 13):
    for out in range(1, 14):
        cases.append(adaptive_case(lin, out))
# Refusals beyond the edges above.
cases += [conv_case(10, 12, 1, 0, 1), conv_case(10, 3, 0, 0, 1), conv_case(10, 3, 1, -1, 1),
          maxpool_case(10, 3, 1, 2, 1, False), maxpool_case(10, 3, 1, 2, 2, False),
          maxpool_case(10, 2, 1, 1, 3, False), maxpool_case(10, 12, 12, 0, 1, False),
          transposed_case(1, 1, 1, 1, 1, 0), adaptive_case(5, 0)]

# Random configurations.
for _ in range(900):
    cases.append(conv_case(random.randint(1, 64), random.randint(1, 9), random.randint(1, 5),
                           random.randint(0, 5), random.randint(1, 4)))
for _ in range(600):
    cases.append(transposed_case(random.randint(1, 40), random.randint(1, 7), random.randint(1, 4),
                                 random.randint(0, 4), random.randint(1, 3), random.randint(0, 3)))
for _ in range(900):
    cases.append(maxpool_case(random.randint(1, 64), random.randint(1, 7), random.randint(1, 5),
                              random.randint(0, 4), random.randint(1, 3), random.random() < 0.5))
for _ in range(600):
    cases.append(avgpool_case(random.randint(1, 64), random.randint(1, 7), random.randint(1, 5),
                              random.randint(0, 4), random.random() < 0.5))
for _ in range(300):
    cases.append(adaptive_case(random.randint(1, 100), random.randint(1, 40)))

data = {"torch": torch.__version__, "cases": cases}
out = Path(__file__).with_name("shapes.json")
out.write_text("{\"torch\": %s, \"cases\": [\n%s\n]}\n" % (
    json.dumps(torch.__version__), ",\n".join(json.dumps(c) for c in cases)))
accepted = sum(c["out"] is not None for c in cases)
print(f"wrote {out}: {len(cases)} cases, {accepted} accepted, {len(cases) - accepted} refused")
