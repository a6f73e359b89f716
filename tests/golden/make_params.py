"""Generate tests/golden/params.json from PyTorch itself (run by hand; torch is never a test dependency).

    /tmp/torchenv/bin/python tests/golden/make_params.py

For a few hundred random layers of every supported type it records what torch prints
(repr) and constructor-call spellings of the same layer, with every named parameter
and buffer (shape, requires_grad) torch creates. Also records constructions torch refuses.
"""

import json
import random
from pathlib import Path

import torch
import torch.nn as nn

random.seed(5)


def r(a, b):
    return random.randint(a, b)


def ksize(nd):
    return r(1, 5) if random.random() < 0.5 else tuple(r(1, 5) for _ in range(nd))


def conv_spec(nd, transposed):
    groups = random.choice([1, 1, 2, 4])
    c_in, c_out = groups * r(1, 6), groups * r(1, 6)
    kw = {"kernel_size": ksize(nd), "stride": random.choice([1, 2]), "groups": groups,
          "bias": random.random() < 0.7}
    if random.random() < 0.4:
        kw["padding"] = r(0, 2)
    if random.random() < 0.3:
        kw["dilation"] = r(1, 2)
    if transposed and random.random() < 0.3:
        kw["output_padding"] = 0
    name = f"{'ConvTranspose' if transposed else 'Conv'}{nd}d"
    return name, (c_in, c_out), kw


def specs():
    out = []
    for nd in (1, 2, 3):
        for transposed in (False, True):
            out += [conv_spec(nd, transposed) for _ in range(14)]
        out += [(f"BatchNorm{nd}d", (r(1, 64),), {"affine": random.random() < 0.7,
                 "track_running_stats": random.random() < 0.7}) for _ in range(5)]
        out += [(f"InstanceNorm{nd}d", (r(1, 64),), {"affine": random.random() < 0.5,
                 "track_running_stats": random.random() < 0.5}) for _ in range(4)]
        out += [(f"MaxPool{nd}d", (r(1, 4),), {"stride": r(1, 3)}),
                (f"AvgPool{nd}d", (r(1, 4),), {}),
                (f"AdaptiveAvgPool{nd}d", (r(1, 7),), {}),
                (f"AdaptiveMaxPool{nd}d", (r(1, 7),), {}),
                (f"ReflectionPad{nd}d", (1,), {}), (f"ReplicationPad{nd}d", (2,), {}),
                (f"ZeroPad{nd}d", (1,), {}), (f"ConstantPad{nd}d", (1, 0.5), {}),
                (f"Dropout{nd}d", (), {"p": 0.2})]
    out += [("Conv2d", (3, 5, 3), {}), ("Conv2d", (8, 16, 3), {"padding": "same", "bias": False}),
            ("Conv1d", (4, 4, 4), {"padding": "valid", "groups": 4})]
    out += [("Linear", (r(1, 300), r(1, 300)), {"bias": random.random() < 0.7}) for _ in range(15)]
    out += [("Bilinear", (r(1, 20), r(1, 20), r(1, 20)), {"bias": random.random() < 0.7}) for _ in range(5)]
    for _ in range(8):
        shape = r(1, 64) if random.random() < 0.5 else (r(1, 8), r(1, 8))
        out.append(("LayerNorm", (shape,), {"elementwise_affine": random.random() < 0.8,
                                            "bias": random.random() < 0.7}))
    for _ in range(6):
        g = r(1, 4)
        out.append(("GroupNorm", (g, g * r(1, 8)), {"affine": random.random() < 0.7}))
    out += [("RMSNorm", (r(1, 32),), {}), ("RMSNorm", ((4, 5),), {"elementwise_affine": False}),
            ("LocalResponseNorm", (2,), {})]
    out += [("Embedding", (r(2, 1000), r(1, 64)), {}) for _ in range(4)]
    out += [("Embedding", (100, 16), {"padding_idx": 0}), ("EmbeddingBag", (50, 8), {"mode": "sum"})]
    for kind in ("RNN", "LSTM", "GRU"):
        for _ in range(8):
            kw = {"num_layers": r(1, 3), "bias": random.random() < 0.7,
                  "bidirectional": random.random() < 0.5, "batch_first": random.random() < 0.5}
            hidden = r(2, 24)
            if kind == "LSTM" and random.random() < 0.4:
                kw["proj_size"] = r(1, hidden - 1)
            out.append((kind, (r(1, 20), hidden), kw))
    for _ in range(8):
        heads = r(1, 4)
        kw = {"bias": random.random() < 0.7, "add_bias_kv": random.random() < 0.3}
        if random.random() < 0.4:
            kw["kdim"], kw["vdim"] = r(1, 20), r(1, 20)
        out.append(("MultiheadAttention", (heads * r(1, 8), heads), kw))
    out += [("PReLU", (), {}), ("PReLU", (r(1, 64),), {})]
    for name in ("ReLU", "ReLU6", "SELU", "SiLU", "Mish", "Hardsigmoid", "Hardswish"):
        out.append((name, (), {"inplace": random.random() < 0.5}))
    out += [("LeakyReLU", (0.2,), {}), ("ELU", (), {"alpha": 0.5}), ("CELU", (), {}),
            ("GELU", (), {"approximate": "tanh"}), ("Sigmoid", (), {}), ("Tanh", (), {}),
            ("Hardtanh", (-2.0, 2.0), {}), ("Hardshrink", (), {}), ("Softshrink", (), {}),
            ("Tanhshrink", (), {}), ("Softplus", (), {"beta": 2.0}), ("Softsign", (), {}),
            ("LogSigmoid", (), {}), ("Softmax", (), {"dim": 1}), ("LogSoftmax", (), {"dim": -1}),
            ("Softmin", (), {"dim": 0}), ("Softmax2d", (), {}), ("Threshold", (0.1, 20.0), {}),
            ("GLU", (), {}), ("LPPool1d", (2, 3), {}), ("LPPool2d", (2.0, 2), {"stride": 1}),
            ("MaxPool2d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True}),
            ("AvgPool2d", (2,), {"count_include_pad": False}),
            ("AdaptiveAvgPool2d", ((6, 6),), {}), ("AdaptiveMaxPool2d", ((4, 4),), {}),
            ("Dropout", (), {"p": 0.5}), ("AlphaDropout", (0.1,), {}), ("FeatureAlphaDropout", (), {}),
            ("Flatten", (), {}), ("Flatten", (0, 2), {}), ("Unflatten", (1, (2, 5)), {}),
            ("Identity", (), {}), ("Upsample", (), {"scale_factor": 2.0, "mode": "nearest"}),
            ("Upsample", (), {"size": (8, 8), "mode": "bilinear", "align_corners": False}),
            ("UpsamplingNearest2d", (), {"scale_factor": 2}), ("UpsamplingBilinear2d", (), {"size": 4}),
            ("PixelShuffle", (2,), {}), ("PixelUnshuffle", (2,), {}), ("ChannelShuffle", (2,), {})]
    return out


def call_text(prefix, name, args, kwargs, keyword_all):
    parts = [repr(a) for a in args]
    if keyword_all:
        sig_names = CONSTRUCTOR_ARGS.get(name)
        if sig_names and len(sig_names) >= len(args):
            parts = [f"{n}={a!r}" for n, a in zip(sig_names, args)]
    parts += [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{prefix}{name}({', '.join(parts)})"


CONSTRUCTOR_ARGS = {
    **{f"Conv{n}d": ["in_channels", "out_channels", "kernel_size"] for n in (1, 2, 3)},
    **{f"ConvTranspose{n}d": ["in_channels", "out_channels", "kernel_size"] for n in (1, 2, 3)},
    "Linear": ["in_features", "out_features"], "Bilinear": ["in1_features", "in2_features", "out_features"],
    **{f"BatchNorm{n}d": ["num_features"] for n in (1, 2, 3)},
    "GroupNorm": ["num_groups", "num_channels"], "LayerNorm": ["normalized_shape"],
    "Embedding": ["num_embeddings", "embedding_dim"],
    "RNN": ["input_size", "hidden_size"], "LSTM": ["input_size", "hidden_size"], "GRU": ["input_size", "hidden_size"],
    "MultiheadAttention": ["embed_dim", "num_heads"],
}


def record(module):
    named = [{"name": n, "shape": list(p.shape), "trainable": p.requires_grad}
             for n, p in module.named_parameters()]
    named += [{"name": n, "shape": list(b.shape), "trainable": False} for n, b in module.named_buffers()]
    return named


cases = []
for name, args, kwargs in specs():
    module = getattr(nn, name)(*args, **kwargs)
    tensors = record(module)
    spellings = [call_text(p, name, args, kwargs, kw)
                 for p, kw in (("", False), ("nn.", True), ("torch.nn.", False))]
    cases.append({"repr": repr(module), "calls": spellings, "tensors": tensors,
                  "params": sum(p.numel() for p in module.parameters()),
                  "buffers": sum(b.numel() for b in module.buffers())})

refused = []
for text, build in [
    ("Conv2d(3, 6, 3, groups=2)", lambda: nn.Conv2d(3, 6, 3, groups=2)),
    ("Conv2d(4, 6, 3, groups=4)", lambda: nn.Conv2d(4, 6, 3, groups=4)),
    ("Conv2d(3, 6, 3, stride=2, padding='same')", lambda: nn.Conv2d(3, 6, 3, stride=2, padding="same")),
    ("GroupNorm(3, 10)", lambda: nn.GroupNorm(3, 10)),
    ("MultiheadAttention(10, 3)", lambda: nn.MultiheadAttention(10, 3)),
    ("LSTM(4, 8, proj_size=8)", lambda: nn.LSTM(4, 8, proj_size=8)),
    ("Conv2d(3, 5)", lambda: nn.Conv2d(3, 5)),
    ("Linear(3, 4, bias=True, bogus=1)", lambda: nn.Linear(3, 4, bias=True, bogus=1)),
    ("Conv2d(-3, 5, 3)", lambda: nn.Conv2d(-3, 5, 3)),
]:
    try:
        build()
        raise SystemExit(f"torch accepted {text}")
    except (ValueError, TypeError, RuntimeError, AssertionError) as exc:
        refused.append({"text": text, "torch_error": str(exc).splitlines()[0][:200]})

path = Path(__file__).with_name("params.json")
path.write_text("{\"torch\": %s,\n\"cases\": [\n%s\n],\n\"refused\": [\n%s\n]}\n" % (
    json.dumps(torch.__version__), ",\n".join(json.dumps(c) for c in cases),
    ",\n".join(json.dumps(c) for c in refused)))
print(f"wrote {path}: {len(cases)} layers x {1 + 3} spellings, {len(refused)} refusals")
