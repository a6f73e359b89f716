"""Generate tests/golden/pool.json from PyTorch itself (run by hand; torch is never a test dependency).

    /tmp/torchenv/bin/python tests/golden/make_pool.py

Random float64 inputs and configurations for max_pool1d/2d, avg_pool1d/2d (padding,
ceil_mode, count_include_pad, dilation for max) and adaptive_avg/max_pool1d/2d, with
the seed's three examples first; configurations torch refuses are recorded as such.
"""

import json
import random
from pathlib import Path

import torch
import torch.nn.functional as F

random.seed(9)
torch.manual_seed(9)


def run(case, fn, x):
    try:
        y = fn(x)
    except (RuntimeError, ValueError) as exc:
        case["output"] = None
        case["error"] = str(exc).splitlines()[0][:160]
        return case
    case["output"] = y.squeeze(0).squeeze(0).tolist() if x.dim() == 4 else y.squeeze(0).squeeze(0).tolist()
    return case


def as_input(values):
    t = torch.tensor(values, dtype=torch.float64)
    return t.reshape(1, 1, *t.shape)


cases = []
seed_4x4 = [[-1.1195, -2.3749, -0.4088, 0.7293], [0.2177, 2.2577, 1.3515, -2.0341],
            [0.2819, 0.7313, 0.3734, -0.6688], [-0.3654, 0.5156, -2.4215, 0.4078]]
cases.append(run({"name": "seed MaxPool2d(2, stride=1)", "op": "max", "input": seed_4x4, "k": [2], "s": [1],
                  "p": [0], "d": [1], "ceil": False, "include_pad": True},
                 lambda x: F.max_pool2d(x, 2, 1), as_input(seed_4x4)))
cases.append(run({"name": "seed AdaptiveAvgPool1d(8)", "op": "avg", "input": [1.0, 2.0, 3.0], "adaptive": [8]},
                 lambda x: F.adaptive_avg_pool1d(x, 8), as_input([1.0, 2.0, 3.0])))
cases.append(run({"name": "seed AdaptiveMaxPool1d(10)", "op": "max", "input": [1.0, 2.0, 3.0], "adaptive": [10]},
                 lambda x: F.adaptive_max_pool1d(x, 10), as_input([1.0, 2.0, 3.0])))

for i in range(250):
    two_d = i % 2 == 1
    shape = (random.randint(1, 9), random.randint(1, 9)) if two_d else (random.randint(1, 16),)
    x = torch.randn(*shape, dtype=torch.float64)
    values = x.tolist()
    kind = random.choice(["max", "avg", "adaptive"])
    nd = 2 if two_d else 1
    if kind == "adaptive":
        op = random.choice(["max", "avg"])
        out = [random.randint(1, 12) for _ in range(nd)]
        fn = {("max", 1): F.adaptive_max_pool1d, ("avg", 1): F.adaptive_avg_pool1d,
              ("max", 2): F.adaptive_max_pool2d, ("avg", 2): F.adaptive_avg_pool2d}[(op, nd)]
        case = {"name": f"adaptive {op} {nd}d", "op": op, "input": values, "adaptive": out}
        cases.append(run(case, lambda t, fn=fn, out=out: fn(t, out if nd == 2 else out[0]), as_input(values)))
        continue
    k = [random.randint(1, 4) for _ in range(nd)]
    s = [random.randint(1, 3) for _ in range(nd)]
    p = [random.randint(0, 2) for _ in range(nd)]
    d = [random.randint(1, 2) for _ in range(nd)] if kind == "max" else [1] * nd
    ceil = random.random() < 0.5
    include = random.random() < 0.6
    case = {"name": f"{kind} {nd}d", "op": kind, "input": values, "k": k, "s": s, "p": p, "d": d,
            "ceil": ceil, "include_pad": include}
    if kind == "max":
        fn = F.max_pool2d if two_d else F.max_pool1d
        call = lambda t, fn=fn, k=k, s=s, p=p, d=d, ceil=ceil: fn(t, k, s, p, d, ceil_mode=ceil)
    else:
        fn = F.avg_pool2d if two_d else F.avg_pool1d
        call = lambda t, fn=fn, k=k, s=s, p=p, ceil=ceil, include=include: fn(t, k, s, p, ceil_mode=ceil, count_include_pad=include)
    t = as_input(values) if two_d else torch.tensor(values, dtype=torch.float64).reshape(1, 1, -1)
    cases.append(run(case, call, t))

path = Path(__file__).with_name("pool.json")
path.write_text("{\"torch\": %s, \"cases\": [\n%s\n]}\n" % (json.dumps(torch.__version__), ",\n".join(json.dumps(c) for c in cases)))
ok = sum(c["output"] is not None for c in cases)
print(f"wrote {path}: {len(cases)} cases, {ok} accepted, {len(cases) - ok} refused")
print(cases[0]["output"], cases[1]["output"], cases[2]["output"], sep="\n")
