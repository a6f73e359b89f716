"""Golden data for `summary` on real models, generated from PyTorch itself.

    /work/torchvenv/bin/python tests/golden/make_real_models.py [--groups torchvision,segmentation,timm,tutorial]

Every model is built on the meta device (no weights, no arithmetic: the same shapes and
counts as a real model), in eval mode, with weights=None / pretrained=False, and run once on
a batch of 1 with forward hooks. It writes:

- tests/golden/real_models/<key>.txt: exactly repr(model), what print(model) shows (timm
  models are keyed timm_<name>: many timm names are torchvision names too);
- tests/golden/real_models.json: per model the input, total params, buffers, final output
  shape, each top-level child's output shape in call order, every leaf-module call in
  execution order, MACs (convention in MACS_CONVENTION, also written into the JSON) and the
  parameters and buffers a repr does not show ("hidden");
- tests/golden/real_models_classes.txt: every class name printed in the reprs, how often,
  where it comes from and which models use it.

With --groups, only those groups are regenerated; the entries of the other groups already in
real_models.json are kept. Models that fail to build or run are listed (with the reason)
on stdout and under "skipped" in the JSON.

torch is never a runtime or test dependency of cnncli: this script runs in a throwaway venv.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import sys
import traceback
from collections import defaultdict
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

# The registry's torchvision wheel is a CUDA build whose C++ ops do not load next to the CPU
# torch; its Python side registers fake kernels for these two ops at import time, so their
# schemas must exist. Classification and segmentation forwards never call them.
_TV_LIB = torch.library.Library("torchvision", "DEF")
_TV_LIB.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
_TV_LIB.define("qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor")

import timm  # noqa: E402
import torchvision  # noqa: E402
from torchvision.models import regnet as _tv_regnet  # noqa: E402

# torchvision's RegNet builders compute the stage widths with torch ops and read them back
# (.tolist()); under the meta device context that read fails, so that arithmetic runs on CPU.
_from_init_params = _tv_regnet.BlockParams.from_init_params.__func__


def _from_init_params_on_cpu(cls, *args, **kwargs):
    with torch.device("cpu"):
        return _from_init_params(cls, *args, **kwargs)


_tv_regnet.BlockParams.from_init_params = classmethod(_from_init_params_on_cpu)

HERE = Path(__file__).resolve().parent
OUT_JSON = HERE / "real_models.json"
OUT_DIR = HERE / "real_models"
OUT_CLASSES = HERE / "real_models_classes.txt"

MACS_CONVENTION = (
    "Multiply-accumulates counted from forward hooks with the real shapes (batch 1). "
    "Conv1d/2d/3d and subclasses (e.g. timm Conv2dSame, ScaledStdConv2d): "
    "output.numel() * (in_channels // groups) * prod(kernel_size). "
    "ConvTranspose1d/2d/3d: input.numel() * (out_channels // groups) * prod(kernel_size). "
    "nn.Linear and subclasses, only when called as modules: output.numel() * in_features "
    "(a Linear whose weight is used functionally, e.g. torchvision Swin's qkv/proj or "
    "MultiheadAttention's out_proj, is not counted as a Linear). "
    "nn.MultiheadAttention (hooked itself): B*Lq*E*E (q projection) + B*Lk*kdim*E (k) + "
    "B*Lv*vdim*E (v) + B*Lq*E*E (out_proj), with Lq, Lk, Lv the query/key/value lengths. "
    "LSTM/GRU/RNN: for each layer and direction B*T*G*H*(I_l + H_r), G = 4 (LSTM), 3 (GRU), "
    "1 (RNN), H = hidden_size, I_l = input_size for layer 0 else H_r * num_directions, "
    "H_r = proj_size or hidden_size; plus B*T*H*proj_size per layer and direction for the "
    "LSTM projection. Everything else counts 0: norms, activations, pooling, attention score "
    "products (q.k and attn.v), bias additions, embeddings, elementwise ops, interpolation. "
    "'macs_functional_linear' (torchvision Swin / Swin V2 only) is what 'macs' leaves out "
    "under this convention: the weight multiply-accumulates of ShiftedWindowAttention's qkv "
    "and proj Linears, which its forward applies with F.linear on the window-padded input "
    "(B * padded_H * padded_W tokens)."
)

SHAPE_CONVENTION = (
    "Models are keyed by their torchvision name, by `timm_<timm name>` for timm (many names "
    "are both, e.g. resnet50), or by a tutorial name; 'model_name' is the library's name. "
    "output shapes include the batch dimension (batch 1). A module returning a tuple or list "
    "is recorded by its first tensor; any other non-tensor output (dict, None) is null. "
    "'children' lists each top-level child (model.named_children()) once per call, in call "
    "order; a child never called does not appear. 'calls' lists each leaf module (no "
    "children; nn.MultiheadAttention counts as a leaf) once per call in execution order as "
    "[path, class name, output shape]; paths are those of model.named_modules(). "
    "'classes' maps each class name printed in the repr to [defining module, times printed]. 'not_called' lists leaf modules with no call (used functionally or not at all). "
    "'hidden' lists [name, shape, 'param'|'buffer'] for every parameter or buffer registered "
    "directly on a module that has children or whose class does not come from torch.nn: what "
    "a printed repr does not show. 'buffers' counts every buffer, persistent or not; "
    "'nonpersistent_buffers' names those not in the state_dict."
)

TV_SEGMENTATION = [
    "fcn_resnet50",
    "fcn_resnet101",
    "deeplabv3_resnet50",
    "deeplabv3_resnet101",
    "deeplabv3_mobilenet_v3_large",
    "lraspp_mobilenet_v3_large",
]

TIMM_MODELS = [
    # ResNet / ResNet-D / ResNeXt / SE-ResNet / ECA
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet26d",
    "resnet50d",
    "resnext50_32x4d",
    "seresnet50",
    "seresnext26d_32x4d",
    "ecaresnet50d",
    "wide_resnet50_2",
    # EfficientNet / MobileNet / MNASNet / LCNet
    "efficientnet_b0",
    "efficientnet_b2",
    "tf_efficientnet_b0",
    "efficientnet_lite0",
    "efficientnetv2_rw_s",
    "tf_efficientnetv2_s",
    "mobilenetv2_100",
    "mobilenetv3_large_100",
    "mobilenetv3_small_100",
    "tf_mobilenetv3_large_100",
    "mnasnet_100",
    "lcnet_050",
    # ConvNeXt
    "convnext_atto",
    "convnext_nano",
    "convnext_tiny",
    "convnext_small",
    # RegNet
    "regnetx_002",
    "regnety_004",
    "regnety_016",
    "regnetx_032",
    "regnety_032",
    # DenseNet
    "densenet121",
    "densenet169",
    # VGG / RepVGG
    "vgg11",
    "vgg16_bn",
    "repvgg_a2",
    "repvgg_b0",
    # ViT / DeiT
    "vit_tiny_patch16_224",
    "vit_small_patch16_224",
    "vit_base_patch16_224",
    "vit_base_patch32_224",
    "vit_small_patch16_384",
    "deit_tiny_patch16_224",
    "deit_small_distilled_patch16_224",
    "deit_base_patch16_224",
    "deit3_small_patch16_224",  # LayerScale (its gamma is a hidden parameter)
    # Swin
    "swin_tiny_patch4_window7_224",
    "swin_small_patch4_window7_224",
    "swin_base_patch4_window7_224",
    # MLP-Mixer
    "mixer_s16_224",
    "mixer_b16_224",
    # Outside the families above, for timm's weight-standardized conv (a Conv2d subclass)
    "nf_resnet50",
]


# --------------------------------------------------------------------------------------
# Tutorial-style models, written out as people write them.
# --------------------------------------------------------------------------------------


class Net(nn.Module):
    """PyTorch's CIFAR-10 tutorial ("Training a Classifier")."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)  # flatten all dimensions except batch
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


class M5(nn.Module):
    """PyTorch's audio tutorial ("Speech Command Classification with torchaudio")."""

    def __init__(self, n_input=1, n_output=35, stride=16, n_channel=32):
        super().__init__()
        self.conv1 = nn.Conv1d(n_input, n_channel, kernel_size=80, stride=stride)
        self.bn1 = nn.BatchNorm1d(n_channel)
        self.pool1 = nn.MaxPool1d(4)
        self.conv2 = nn.Conv1d(n_channel, n_channel, kernel_size=3)
        self.bn2 = nn.BatchNorm1d(n_channel)
        self.pool2 = nn.MaxPool1d(4)
        self.conv3 = nn.Conv1d(n_channel, 2 * n_channel, kernel_size=3)
        self.bn3 = nn.BatchNorm1d(2 * n_channel)
        self.pool3 = nn.MaxPool1d(4)
        self.conv4 = nn.Conv1d(2 * n_channel, 2 * n_channel, kernel_size=3)
        self.bn4 = nn.BatchNorm1d(2 * n_channel)
        self.pool4 = nn.MaxPool1d(4)
        self.fc1 = nn.Linear(2 * n_channel, n_output)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(self.bn1(x))
        x = self.pool1(x)
        x = self.conv2(x)
        x = F.relu(self.bn2(x))
        x = self.pool2(x)
        x = self.conv3(x)
        x = F.relu(self.bn3(x))
        x = self.pool3(x)
        x = self.conv4(x)
        x = F.relu(self.bn4(x))
        x = self.pool4(x)
        x = F.avg_pool1d(x, x.shape[-1])
        x = x.permute(0, 2, 1)
        x = self.fc1(x)
        return F.log_softmax(x, dim=2)


class HomeworkNet(nn.Module):
    """A plain (not residual) net whose children are named like a ResNet BasicBlock's."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3, padding=1)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)
        self.bn2 = nn.BatchNorm2d(64)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(64 * 16 * 16, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = self.pool(x)
        x = x.view(x.size(0), -1)
        return self.fc(x)


class ResBlock(nn.Module):
    def __init__(self, in_ch, out_ch, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_ch),
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return F.relu(out)


class SmallResNet(nn.Module):
    """A small CIFAR residual net as in countless course notebooks."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = nn.Sequential(ResBlock(16, 16), ResBlock(16, 16))
        self.layer2 = nn.Sequential(ResBlock(16, 32, stride=2), ResBlock(32, 32))
        self.layer3 = nn.Sequential(ResBlock(32, 64, stride=2), ResBlock(64, 64))
        self.linear = nn.Linear(64, num_classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer1(out)
        out = self.layer2(out)
        out = self.layer3(out)
        out = F.adaptive_avg_pool2d(out, 1)
        out = out.view(out.size(0), -1)
        return self.linear(out)


class LSTMClassifier(nn.Module):
    """Sentiment-style text classifier: embedding, 2-layer bidirectional LSTM, last step."""

    def __init__(self, vocab_size=5000, embed_dim=100, hidden_dim=128, num_classes=2):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(
            embed_dim, hidden_dim, num_layers=2, batch_first=True, bidirectional=True, dropout=0.3
        )
        self.dropout = nn.Dropout(0.3)
        self.fc = nn.Linear(hidden_dim * 2, num_classes)

    def forward(self, x):
        embedded = self.embedding(x)
        output, _ = self.lstm(embedded)
        last = output[:, -1, :]
        return self.fc(self.dropout(last))


class GRUModel(nn.Module):
    """Sequence model on features [T, F]; the GRU is sequence-first, so forward transposes."""

    def __init__(self, input_size=40, hidden_size=64, num_layers=2, num_classes=12):
        super().__init__()
        self.gru = nn.GRU(input_size, hidden_size, num_layers=num_layers)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        x = x.transpose(0, 1)  # [B, T, F] -> [T, B, F]
        _, h_n = self.gru(x)
        return self.fc(h_n[-1])


class TransformerModel(nn.Module):
    """nn.TransformerEncoder on a float sequence [seq, d_model], mean-pooled, then a head."""

    def __init__(self, d_model=64, nhead=4, num_layers=2, num_classes=5):
        super().__init__()
        layer = nn.TransformerEncoderLayer(
            d_model=d_model, nhead=nhead, dim_feedforward=128, dropout=0.1, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=num_layers)
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, x):
        x = self.encoder(x)
        return self.head(x.mean(dim=1))


class SelfAttentionNet(nn.Module):
    """A wrapper around nn.MultiheadAttention: self-attention, residual, norm, head."""

    def __init__(self, embed_dim=64, num_heads=4, num_classes=3):
        super().__init__()
        self.attn = nn.MultiheadAttention(embed_dim, num_heads, batch_first=True)
        self.norm = nn.LayerNorm(embed_dim)
        self.fc = nn.Linear(embed_dim, num_classes)

    def forward(self, x):
        attn_out, _ = self.attn(x, x, x, need_weights=False)
        x = self.norm(x + attn_out)
        return self.fc(x[:, 0])


class CrossAttentionPool(nn.Module):
    """Learned queries attend over a projected sequence (kdim/vdim differ from embed_dim)."""

    def __init__(self, in_dim=48, ctx_dim=32, embed_dim=64, num_queries=4, num_heads=8):
        super().__init__()
        self.ctx = nn.Linear(in_dim, ctx_dim)
        self.queries = nn.Parameter(torch.zeros(num_queries, embed_dim))
        self.attn = nn.MultiheadAttention(
            embed_dim, num_heads, kdim=ctx_dim, vdim=ctx_dim, batch_first=True
        )
        self.out = nn.Linear(embed_dim, 10)

    def forward(self, x):
        ctx = self.ctx(x)
        q = self.queries.unsqueeze(0).expand(x.size(0), -1, -1)
        pooled, _ = self.attn(q, ctx, ctx)
        return self.out(pooled.flatten(1)[:, : self.out.in_features])


class TinyUNet(nn.Module):
    """A two-level UNet: down, up with ConvTranspose2d, concatenate the skip, 1x1 out."""

    def __init__(self, in_ch=3, n_classes=2):
        super().__init__()
        self.enc1 = nn.Sequential(
            nn.Conv2d(in_ch, 16, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(16, 16, 3, padding=1),
            nn.ReLU(inplace=True),
        )
        self.pool = nn.MaxPool2d(2)
        self.enc2 = nn.Sequential(
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 32, 3, padding=1),
            nn.ReLU(inplace=True),
        )
        self.up = nn.ConvTranspose2d(32, 16, kernel_size=2, stride=2)
        self.dec1 = nn.Sequential(
            nn.Conv2d(32, 16, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(16, 16, 3, padding=1),
            nn.ReLU(inplace=True),
        )
        self.out = nn.Conv2d(16, n_classes, kernel_size=1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        d1 = self.up(e2)
        d1 = self.dec1(torch.cat([d1, e1], dim=1))
        return self.out(d1)


class Generator(nn.Module):
    """The DCGAN tutorial's generator (nz=100, ngf=64, nc=3): 100x1x1 -> 3x64x64."""

    def __init__(self, nz=100, ngf=64, nc=3):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, input):
        return self.main(input)


LSTM_PROJ_SOURCE = (
    "model = nn.LSTM(input_size=32, hidden_size=64, num_layers=2, proj_size=16, "
    "batch_first=True)  # a bare nn.LSTM; forward returns (output, (h_n, c_n))"
)

# name -> (builder, per-sample input shape, input dtype)
TUTORIAL_MODELS = {
    "cifar10_net": (Net, [3, 32, 32], "float32"),
    "audio_m5": (M5, [1, 8000], "float32"),
    "homework_net": (HomeworkNet, [3, 32, 32], "float32"),
    "small_resnet": (SmallResNet, [3, 32, 32], "float32"),
    "lstm_classifier": (LSTMClassifier, [50], "int64"),
    "gru_model": (GRUModel, [100, 40], "float32"),
    "lstm_proj": (
        lambda: nn.LSTM(
            input_size=32, hidden_size=64, num_layers=2, proj_size=16, batch_first=True
        ),
        [20, 32],
        "float32",
    ),
    "transformer_encoder": (TransformerModel, [16, 64], "float32"),
    "mha_self_attention": (SelfAttentionNet, [10, 64], "float32"),
    "mha_cross_attention": (CrossAttentionPool, [12, 48], "float32"),
    "tiny_unet": (TinyUNet, [3, 64, 64], "float32"),
    "dcgan_generator": (Generator, [100, 1, 1], "float32"),
}


# --------------------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------------------


def first_tensor(out):
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (tuple, list)):
        for item in out:
            t = first_tensor(item)
            if t is not None:
                return t
    return None


def shape_of(out):
    t = first_tensor(out)
    return None if t is None else list(t.shape)


def conv_macs(m, inputs, output):
    if m.transposed:
        return inputs[0].numel() * (m.out_channels // m.groups) * math.prod(m.kernel_size)
    return output.numel() * (m.in_channels // m.groups) * math.prod(m.kernel_size)


def mha_macs(m, args, kwargs, output):
    names = ["query", "key", "value"]
    q, k, v = (args[i] if i < len(args) else kwargs[n] for i, n in enumerate(names))
    e = m.embed_dim
    # query.numel() == B*Lq*E, key.numel() == B*Lk*kdim, value.numel() == B*Lv*vdim
    return (2 * q.numel() + k.numel() + v.numel()) * e


def rnn_macs(m, inputs, output):
    x = inputs[0]
    if not isinstance(x, torch.Tensor):
        raise TypeError("packed sequences are not supported here")
    bt = x.numel() // x.shape[-1]  # B*T for batched and unbatched input
    gates = {"LSTM": 4, "GRU": 3}.get(m.mode, 1)
    h = m.hidden_size
    proj = getattr(m, "proj_size", 0)
    h_r = proj or h
    dirs = 2 if m.bidirectional else 1
    total = 0
    for layer in range(m.num_layers):
        i_l = m.input_size if layer == 0 else h_r * dirs
        per_dir = bt * gates * h * (i_l + h_r)
        if proj:
            per_dir += bt * h * proj
        total += per_dir * dirs
    return total


def swin_functional_macs(m, inputs, output):
    """torchvision's shifted_window_attention applies qkv and proj with F.linear on the input
    padded to a multiple of the window: B * padded_H * padded_W tokens through both."""
    b, h, w, _ = inputs[0].shape
    wh, ww = m.window_size
    tokens = b * math.ceil(h / wh) * wh * math.ceil(w / ww) * ww
    return tokens * (
        m.qkv.in_features * m.qkv.out_features + m.proj.in_features * m.proj.out_features
    )


def is_leaf(m):
    return isinstance(m, nn.MultiheadAttention) or not any(True for _ in m.children())


def from_torch_nn(m):
    return type(m).__module__.startswith("torch.nn.")


def record(model, x):
    """Run model(x) once with hooks; return the per-model data (without repr-derived fields)."""
    children = []
    calls = []
    macs = [0]
    functional = [0]
    handles = []
    called = set()

    top = dict(model.named_children())
    # Leaves inside a MultiheadAttention are part of that leaf.
    inside_mha = set()
    for m in model.modules():
        if isinstance(m, nn.MultiheadAttention):
            inside_mha.update(id(c) for c in m.modules() if c is not m)

    def add_call_hooks(store, path, m, with_class):
        pending = []

        def pre(mod, args):
            entry = [path, type(mod).__name__, None] if with_class else [path, None]
            store.append(entry)
            pending.append(entry)
            called.add(id(mod))

        def post(mod, args, output):
            entry = pending.pop()
            entry[-1] = shape_of(output)

        handles.append(m.register_forward_pre_hook(pre))
        handles.append(m.register_forward_hook(post))

    for name, m in top.items():
        add_call_hooks(children, name, m, with_class=False)
    leaves = {}
    for path, m in model.named_modules():
        if id(m) in inside_mha:
            continue
        if is_leaf(m):
            leaves[path] = m
            add_call_hooks(calls, path or "", m, with_class=True)
        if isinstance(m, nn.modules.conv._ConvNd):
            handles.append(
                m.register_forward_hook(
                    lambda mod, i, o: macs.__setitem__(0, macs[0] + conv_macs(mod, i, o))
                )
            )
        elif isinstance(m, nn.Linear):
            handles.append(
                m.register_forward_hook(
                    lambda mod, i, o: macs.__setitem__(0, macs[0] + o.numel() * mod.in_features)
                )
            )
        elif isinstance(m, nn.MultiheadAttention):
            handles.append(
                m.register_forward_hook(
                    lambda mod, a, k, o: macs.__setitem__(0, macs[0] + mha_macs(mod, a, k, o)),
                    with_kwargs=True,
                )
            )
        elif isinstance(m, torchvision.models.swin_transformer.ShiftedWindowAttention):
            # (ShiftedWindowAttentionV2 is a subclass.)
            handles.append(
                m.register_forward_hook(
                    lambda mod, i, o: functional.__setitem__(
                        0, functional[0] + swin_functional_macs(mod, i, o)
                    )
                )
            )
        elif isinstance(m, nn.RNNBase):
            handles.append(
                m.register_forward_hook(
                    lambda mod, i, o: macs.__setitem__(0, macs[0] + rnn_macs(mod, i, o))
                )
            )
    try:
        out = model(x)
    finally:
        for h in handles:
            h.remove()

    note = None
    if isinstance(out, dict):
        final = out["out"]
        note = "the model returns a dict; output_shape is out['out']"
    elif isinstance(out, torch.Tensor):
        final = out
    else:
        final = first_tensor(out)
        note = f"the model returns a {type(out).__name__}; output_shape is its first tensor"
    return {
        "output_shape": list(final.shape),
        "output_note": note,
        "children": children,
        "calls": calls,
        "not_called": [p for p, m in leaves.items() if id(m) not in called],
        "macs": macs[0],
        "macs_functional_linear": functional[0],
    }


def hidden_tensors(model):
    found = []
    for path, m in model.named_modules():
        if not (any(True for _ in m.children()) or not from_torch_nn(m)):
            continue
        prefix = f"{path}." if path else ""
        for n, p in m.named_parameters(recurse=False):
            found.append([prefix + n, list(p.shape), "param"])
        for n, b in m.named_buffers(recurse=False):
            found.append([prefix + n, list(b.shape), "buffer"])
    return found


def nonpersistent_buffers(model):
    names = []
    for path, m in model.named_modules():
        prefix = f"{path}." if path else ""
        names.extend(prefix + n for n in sorted(m._non_persistent_buffers_set))
    return names


def printed_classes(model):
    """(class name, defining module) in the order and multiplicity repr(model) prints them."""
    names = []

    def walk(m):
        names.append((type(m).__name__, type(m).__module__))
        for c in m._modules.values():
            if c is not None:
                walk(c)

    walk(model)
    return names


def describe(name, model, source, input_shape, dtype="float32"):
    model.eval()
    if dtype == "int64":
        x = torch.zeros(1, *input_shape, dtype=torch.int64)
    else:
        x = torch.empty(1, *input_shape)
    entry = {
        "source": source,
        "model_name": name.removeprefix("timm_") if source == "timm" else name,
        "class": type(model).__name__,
        "input": list(input_shape),
    }
    if dtype != "float32":
        entry["input_dtype"] = dtype
    entry["total_params"] = sum(p.numel() for p in model.parameters())
    entry["buffers"] = sum(b.numel() for b in model.buffers())
    entry.update(record(model, x))
    if entry["output_note"] is None:
        del entry["output_note"]
    if not entry["macs_functional_linear"]:
        del entry["macs_functional_linear"]
    entry["hidden"] = hidden_tensors(model)
    entry["nonpersistent_buffers"] = nonpersistent_buffers(model)
    classes = {}
    for cls, mod in printed_classes(model):
        classes[cls] = [mod, classes.get(cls, [mod, 0])[1] + 1]
    entry["classes"] = classes
    return entry


def tutorial_source(model):
    classes = []
    for m in model.modules():
        cls = type(m)
        if cls.__module__ == __name__ and cls not in classes:
            classes.append(cls)
    return "\n\n".join(inspect.getsource(c) for c in classes)


def builders(groups):
    """Yield (key, source, build, input_shape, dtype); timm keys are `timm_<timm name>`."""
    if "torchvision" in groups:
        for name in torchvision.models.list_models(module=torchvision.models):
            shape = [3, 299, 299] if name == "inception_v3" else [3, 224, 224]
            yield (
                name,
                "torchvision",
                lambda n=name: torchvision.models.get_model(n, weights=None),
                shape,
                "float32",
            )
    if "segmentation" in groups:
        for name in TV_SEGMENTATION:
            yield (
                name,
                "torchvision",
                lambda n=name: torchvision.models.get_model(n, weights=None, weights_backbone=None),
                [3, 224, 224],
                "float32",
            )
    if "timm" in groups:
        for name in TIMM_MODELS:
            # Many timm names are torchvision names too (resnet50, densenet121, vgg11...).
            yield (
                f"timm_{name}",
                "timm",
                lambda n=name: timm.create_model(n, pretrained=False),
                None,
                "float32",
            )
    if "tutorial" in groups:
        for name, (build, shape, dtype) in TUTORIAL_MODELS.items():
            yield name, "tutorial", build, shape, dtype


def dump_json(data):
    """Header fields indented, one model per line (compact), so diffs stay per model."""
    lines = ["{"]
    for key in ("versions", "macs_convention", "shape_convention", "skipped"):
        lines.append(f"  {json.dumps(key)}: {json.dumps(data[key])},")
    lines.append('  "models": {')
    items = list(data["models"].items())
    for i, (name, entry) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        lines.append(f"    {json.dumps(name)}: {json.dumps(entry, separators=(',', ':'))}{comma}")
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_classes(models):
    by_class = defaultdict(lambda: {"count": 0, "modules": set(), "models": {}})
    for model_name, entry in models.items():
        for cls, (mod, count) in entry["classes"].items():
            info = by_class[cls]
            info["count"] += count
            info["modules"].add(mod)
            info["models"][model_name] = count
    lines = [
        "# Every class name printed in tests/golden/real_models/*.txt (made by make_real_models.py).",
        "# Times = instances in the module tree; repr folds identical repeated children as `(0-1): 2 x Class(`, so it may print a class fewer times.",
        "# class<TAB>times<TAB>number of models<TAB>defining module(s)<TAB>models (times printed in each)",
    ]
    for cls in sorted(by_class, key=lambda c: (-len(by_class[c]["models"]), c)):
        info = by_class[cls]
        models = ", ".join(f"{m}({n})" for m, n in sorted(info["models"].items()))
        lines.append(
            f"{cls}\t{info['count']}\t{len(info['models'])}\t{','.join(sorted(info['modules']))}\t{models}"
        )
    OUT_CLASSES.write_text("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--groups", default="torchvision,segmentation,timm,tutorial")
    args = parser.parse_args()
    groups = set(args.groups.split(","))
    unknown = groups - {"torchvision", "segmentation", "timm", "tutorial"}
    if unknown:
        parser.error(f"unknown groups: {sorted(unknown)}")

    old = json.loads(OUT_JSON.read_text()) if OUT_JSON.exists() else {"models": {}, "skipped": {}}
    regenerated = set()
    models = {}
    skipped = {}
    OUT_DIR.mkdir(exist_ok=True)
    for name, source, build, shape, dtype in builders(groups):
        regenerated.add(name)
        try:
            with torch.device("meta"):
                model = build()
                model.eval()
                if shape is None:
                    shape = list(model.pretrained_cfg["input_size"])
                entry = describe(name, model, source, shape, dtype)
                if source == "tutorial":
                    entry["forward_source"] = (
                        LSTM_PROJ_SOURCE if name == "lstm_proj" else tutorial_source(model)
                    )
        except Exception as exc:  # a model that cannot be built or run on meta is skipped
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            skipped[name] = reason
            print(f"SKIP {name}: {reason}", file=sys.stderr)
            traceback.print_exc(limit=2)
            continue
        (OUT_DIR / f"{name}.txt").write_text(repr(model) + "\n")
        models[name] = entry
        print(
            f"{name}: params={entry['total_params']} out={entry['output_shape']} "
            f"macs={entry['macs']} calls={len(entry['calls'])} hidden={len(entry['hidden'])}",
            flush=True,
        )

    # Keep the other groups' entries; put everything in a stable order (source, then name).
    for name, entry in old["models"].items():
        if name not in regenerated:
            models[name] = entry
    for name, reason in old.get("skipped", {}).items():
        if name not in regenerated:
            skipped[name] = reason
    order = {"torchvision": 0, "timm": 1, "tutorial": 2}
    models = dict(sorted(models.items(), key=lambda kv: (order[kv[1]["source"]], kv[0])))
    data = {
        "versions": {
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "timm": timm.__version__,
        },
        "macs_convention": MACS_CONVENTION,
        "shape_convention": SHAPE_CONVENTION,
        "skipped": dict(sorted(skipped.items())),
        "models": models,
    }
    OUT_JSON.write_text(dump_json(data))

    write_classes(models)
    print(f"{len(models)} models written, {len(skipped)} skipped", file=sys.stderr)
    for name, reason in sorted(skipped.items()):
        print(f"skipped {name}: {reason}", file=sys.stderr)


if __name__ == "__main__":
    main()
