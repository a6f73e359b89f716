"""Generate tests/golden/modelfiles/ (model files and model_files.json) from PyTorch itself.

    /work/torchvenv/bin/python tests/golden/make_model_files.py

Needs torch, torchvision, timm, safetensors and onnx (never cnncli's dependencies).
Small hand-written models are saved with their real (random) weights; torchvision and
timm models are built on the meta device and saved with zero tensors of the real shapes
and dtypes, gzipped (zeros compress a thousandfold; the tests unpack them to a temporary
directory), so the committed files stay small.

model_files.json records, per file, what torch says: ``total_params`` =
sum(p.numel() for p in model.parameters()), ``buffers`` = the same over model.buffers(),
and the (name, shape, dtype) of every tensor in the saved state_dict. For ONNX exports
it records the forward of the torch model, from hooks: each Conv/ConvTranspose/Linear
call's output shape in order, the MACs by cnncli's convention (Conv: output elements x
in/groups x prod(kernel); ConvTranspose: input elements x out/groups x prod(kernel);
Linear: output elements x in_features), the model's output shape, at the
export size and at a second input size (the exports have symbolic batch, height and
width); and the onnx package's own count of elements in floating-point initializers.
"""

import gzip
import json
import math
import os
import shutil
import warnings
from pathlib import Path

import torch
import torch.nn as nn

# torchvision's C++ ops may be missing from a CPU wheel: define the schemas it registers.
_lib = torch.library.Library("torchvision", "DEF")
_lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
_lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")

import onnx  # noqa: E402
import timm  # noqa: E402
import torchvision  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

OUT = Path(__file__).resolve().parent / "modelfiles"
torch.manual_seed(0)
warnings.filterwarnings("ignore")


class TinyNet(nn.Module):
    """A small CNN with a parameter print(model) does not show (``scale``)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, kernel_size=3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, kernel_size=3, stride=2, groups=2, bias=False),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(16, 10))
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x):
        return self.classifier(self.features(x)) * self.scale


class Tagger(nn.Module):
    """Embedding -> bidirectional 2-layer LSTM -> Linear, a sequence tagger."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(100, 16)
        self.lstm = nn.LSTM(16, 32, num_layers=2, bidirectional=True, batch_first=True)
        self.head = nn.Linear(64, 5)

    def forward(self, tokens):
        return self.head(self.lstm(self.embed(tokens))[0])


class TinyDecoder(nn.Module):
    """Down with a strided conv, up with a grouped transposed conv (ONNX MACs of both)."""

    def __init__(self):
        super().__init__()
        self.down = nn.Conv2d(3, 8, kernel_size=3, stride=2, padding=1)
        self.act = nn.ReLU()
        self.up = nn.ConvTranspose2d(8, 4, kernel_size=4, stride=2, padding=1, groups=2)
        self.head = nn.Conv2d(4, 3, kernel_size=1)

    def forward(self, x):
        return self.head(self.up(self.act(self.down(x))))


def numel(tensors):
    return sum(t.numel() for t in tensors)


def tensor_list(state):
    return [[name, list(t.shape), str(t.dtype).removeprefix("torch.")] for name, t in state.items()]


def zeros_like_state(model, dtype=None):
    """Zero tensors of the state_dict's shapes (and dtype for floating ones)."""
    state = {}
    for name, t in model.state_dict().items():
        kind = dtype if dtype is not None and t.dtype.is_floating_point else t.dtype
        state[name] = torch.zeros(t.shape, dtype=kind)
    return state


def gzip_file(path):
    with open(path, "rb") as src, open(str(path) + ".gz", "wb") as raw:
        with gzip.GzipFile("", "wb", compresslevel=9, fileobj=raw, mtime=0) as dst:
            shutil.copyfileobj(src, dst)
    os.remove(path)
    return path.name + ".gz"


def forward_record(model, shape):
    """Conv/Linear output shapes in call order, their MACs, and the output shape."""
    calls = []

    def hook(module, inputs, output):
        if isinstance(module, nn.ConvTranspose2d):
            k = math.prod(module.kernel_size)
            macs = inputs[0].numel() * (module.out_channels // module.groups) * k
        elif isinstance(module, nn.Conv2d):
            k = math.prod(module.kernel_size)
            macs = output.numel() * (module.in_channels // module.groups) * k
        else:
            macs = output.numel() * module.in_features
        calls.append({"output_shape": list(output.shape), "macs": macs})

    handles = [
        m.register_forward_hook(hook)
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))
    ]
    with torch.no_grad():
        out = model(torch.zeros(shape))
    for h in handles:
        h.remove()
    return {
        "input_shape": list(shape),
        "calls": calls,
        "macs": sum(c["macs"] for c in calls),
        "output_shape": list(out.shape),
    }


def export_onnx(model, path, shape, second):
    model.eval()
    torch.onnx.export(
        model,
        (torch.zeros(shape),),
        str(path),
        dynamo=False,
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"}, "output": {0: "batch"}},
    )
    graph = onnx.load(str(path)).graph
    floating = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE}
    return {
        "initializer_params": sum(
            math.prod(i.dims) for i in graph.initializer if i.data_type in floating
        ),
        "nodes": len(graph.node),
        "forward": [forward_record(model, shape), forward_record(model, second)],
    }


def compact_json(data, level=0):
    """Indented JSON with every list of scalars (a shape, a tensor record) on one line."""
    pad, inner = " " * level, " " * (level + 1)
    if isinstance(data, dict) and data:
        items = [f"{inner}{json.dumps(k)}: {compact_json(v, level + 1)}" for k, v in data.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(data, list) and any(isinstance(v, dict) for v in data) or (
        isinstance(data, list) and data and all(isinstance(v, list) for v in data)
    ):
        items = [f"{inner}{compact_json(v, level + 1)}" for v in data]
        return "[\n" + ",\n".join(items) + f"\n{pad}]"
    return json.dumps(data)


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()
    expected = {}

    def record(name, model, state, fmt, **extra):
        expected[name] = {
            "format": fmt,
            "total_params": numel(model.parameters()),
            "buffers": numel(model.buffers()),
            "tensors": tensor_list(state),
            **extra,
        }

    # Hand-written models, real weights.
    tiny = TinyNet().eval()
    (OUT / "tiny_cnn.txt").write_text(repr(tiny) + "\n")
    state = tiny.state_dict()
    save_file(state, OUT / "tiny_cnn.safetensors")
    record("tiny_cnn.safetensors", tiny, state, "safetensors")
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    save_file(half, OUT / "tiny_cnn.f16.safetensors")
    record("tiny_cnn.f16.safetensors", tiny, half, "safetensors")
    torch.save(state, OUT / "tiny_cnn.pt")
    record("tiny_cnn.pt", tiny, state, "torch-zip")
    torch.save(state, OUT / "tiny_cnn.legacy.pth", _use_new_zipfile_serialization=False)
    record("tiny_cnn.legacy.pth", tiny, state, "torch-legacy")
    wrapped = {f"model.{k}": v for k, v in state.items()}
    optimizer = torch.optim.SGD(tiny.parameters(), lr=0.1, momentum=0.9)
    tiny(torch.zeros(2, 3, 16, 16)).sum().backward()
    optimizer.step()
    checkpoint = {
        "epoch": 3,
        "global_step": 120,
        "pytorch-lightning_version": "2.4.0",
        "state_dict": wrapped,
        "optimizer_states": [optimizer.state_dict()],
        "hyper_parameters": {"lr": 0.1, "name": "tiny"},
    }
    torch.save(checkpoint, OUT / "tiny_cnn.ckpt")
    record("tiny_cnn.ckpt", tiny, wrapped, "torch-zip", state_dict="state_dict", prefix="model.")
    onnx_info = export_onnx(tiny, OUT / "tiny_cnn.onnx", (1, 3, 16, 16), (2, 3, 24, 20))
    expected["tiny_cnn.onnx"] = {"format": "onnx", **onnx_info}

    decoder = TinyDecoder().eval()
    onnx_info = export_onnx(decoder, OUT / "tiny_decoder.onnx", (1, 3, 16, 16), (2, 3, 20, 12))
    expected["tiny_decoder.onnx"] = {"format": "onnx", **onnx_info}

    tagger = Tagger().eval()
    (OUT / "tagger.txt").write_text(repr(tagger) + "\n")
    state = tagger.state_dict()
    save_file(state, OUT / "tagger.safetensors")
    record("tagger.safetensors", tagger, state, "safetensors")
    torch.save(state, OUT / "tagger.pt")
    record("tagger.pt", tagger, state, "torch-zip")
    torch.save(state, OUT / "tagger.legacy.pt", _use_new_zipfile_serialization=False)
    record("tagger.legacy.pt", tagger, state, "torch-legacy")

    # Library models: shapes from the meta device, zero data, gzipped.
    with torch.device("meta"):
        resnet18 = torchvision.models.resnet18()
        mobilenet = torchvision.models.mobilenet_v3_small()
        effnet = timm.create_model("efficientnet_b0")
        vit = timm.create_model("vit_tiny_patch16_224")
    (OUT / "resnet18.txt").write_text(repr(resnet18) + "\n")
    state = zeros_like_state(resnet18, torch.float16)
    save_file(state, OUT / "resnet18.f16.safetensors")
    record(gzip_file(OUT / "resnet18.f16.safetensors"), resnet18, state, "safetensors")
    state = zeros_like_state(resnet18)
    torch.save(state, OUT / "resnet18.pth")
    record(gzip_file(OUT / "resnet18.pth"), resnet18, state, "torch-zip")
    state = zeros_like_state(mobilenet)
    torch.save(state, OUT / "mobilenet_v3_small.legacy.pt", _use_new_zipfile_serialization=False)
    record(gzip_file(OUT / "mobilenet_v3_small.legacy.pt"), mobilenet, state, "torch-legacy")
    state = zeros_like_state(effnet, torch.bfloat16)
    save_file(state, OUT / "efficientnet_b0.bf16.safetensors")
    record(gzip_file(OUT / "efficientnet_b0.bf16.safetensors"), effnet, state, "safetensors")
    state = zeros_like_state(vit, torch.float16)
    torch.save({"model": state, "epoch": 300}, OUT / "vit_tiny.bin")
    record(gzip_file(OUT / "vit_tiny.bin"), vit, state, "torch-zip", state_dict="model")

    squeeze = torchvision.models.squeezenet1_1()
    with torch.no_grad():  # a distinct constant per tensor: compresses, and no two are equal
        for index, p in enumerate(squeeze.parameters()):  # (an exporter merges equal ones)
            p.fill_(1.0 + index / 64)
    onnx_info = export_onnx(squeeze, OUT / "squeezenet1_1.onnx", (1, 3, 224, 224), (2, 3, 96, 128))
    expected[gzip_file(OUT / "squeezenet1_1.onnx")] = {"format": "onnx", **onnx_info}

    (OUT / "model_files.json").write_text(compact_json(expected) + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"{len(list(OUT.iterdir()))} files, {total:,} bytes in {OUT}")


if __name__ == "__main__":
    main()
