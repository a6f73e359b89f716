"""Generate tests/golden/summary.json and the zoo reprs (cnncli/zoo/*.txt) from PyTorch itself.

    /tmp/torchenv/bin/python tests/golden/make_summary.py

Models are written out by hand (torchvision is not installed): AlexNet, VGG-16, ResNet-18
(BasicBlock with downsample) as torchvision defines them, LeNet-5 (the classic tanh/avg-pool
version on 1x32x32) and the seed's MyConvNet, plus random 1D/2D/3D stacks. For each model
it records repr(model), and from forward hooks every leaf module call in execution order
with its output shape; MACs are counted from the real shapes by the convention cnncli
documents: Conv = output elements * in/groups * prod(kernel); ConvTranspose = input
elements * out/groups * prod(kernel); Linear = output elements * in_features; others 0.
"""

import json
import math
import random
from pathlib import Path

import torch
import torch.nn as nn

ROOT = Path(__file__).resolve().parents[2]
random.seed(3)
torch.manual_seed(0)


class MyConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.feature = nn.Sequential(
            nn.Conv2d(3, 16, kernel_size=3, stride=1, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2),
            nn.Conv2d(16, 32, kernel_size=3, stride=1, padding=1),
            nn.ReLU(),
            nn.AdaptiveMaxPool2d(output_size=(4, 4)),
            nn.Flatten(),
        )
        self.classifier = nn.Sequential(nn.Linear(32 * 4 * 4, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x):
        return self.classifier(self.feature(x))


class AlexNet(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(p=0.5), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


class VGG(nn.Module):
    def __init__(self, cfg, num_classes=1000):
        super().__init__()
        layers, c = [], 3
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(c, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                c = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=0.5),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=0.5), nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5), nn.Tanh(), nn.AvgPool2d(kernel_size=2),
            nn.Conv2d(6, 16, kernel_size=5), nn.Tanh(), nn.AvgPool2d(kernel_size=2),
            nn.Conv2d(16, 120, kernel_size=5), nn.Tanh(),
        )
        self.classifier = nn.Sequential(nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class Net(nn.Module):
    """features -> flatten (in forward, invisible in the repr) -> classifier."""

    def __init__(self, features, classifier):
        super().__init__()
        self.features = features
        self.classifier = classifier

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def random_stack(nd):
    conv = getattr(nn, f"Conv{nd}d")
    bn = getattr(nn, f"BatchNorm{nd}d")
    maxpool = getattr(nn, f"MaxPool{nd}d")
    avgpool = getattr(nn, f"AvgPool{nd}d")
    adaptive = getattr(nn, f"Adaptive{random.choice(['Avg', 'Max'])}Pool{nd}d")
    size = {1: random.randint(40, 120), 2: random.randint(24, 64), 3: random.randint(12, 20)}[nd]
    c = random.choice([1, 3, 4])
    shape = [c] + [size] * nd
    layers = []
    for _ in range(random.randint(2, 4)):
        groups = random.choice([1, 1, c]) if c > 1 else 1
        out = groups * random.randint(1, 6)
        choice = random.random()
        if choice < 0.3:
            layers.append(conv(c, out, 3, padding="same", groups=groups, dilation=random.choice([1, 2])))
        elif choice < 0.6:
            layers.append(conv(c, out, random.choice([3, 5]), stride=random.choice([1, 2]),
                               padding=random.randint(0, 2), dilation=random.choice([1, 2]), groups=groups))
        else:
            layers.append(conv(c, out, (3,) * nd, bias=False))
        c = out
        if random.random() < 0.5:
            layers.append(bn(c))
        layers.append(random.choice([nn.ReLU(), nn.GELU(), nn.LeakyReLU(0.1), nn.Tanh()]))
        if random.random() < 0.5:
            layers.append(maxpool(2, stride=2, ceil_mode=random.random() < 0.5, padding=random.choice([0, 1])))
        elif random.random() < 0.3:
            # AvgPool's repr does not print ceil_mode, so a repr-based tool must assume False.
            layers.append(avgpool(3, stride=2, padding=1))
        if random.random() < 0.2:
            layers.append(nn.Dropout(0.1))
    layers.append(adaptive(random.choice([1, 2, 3])))
    return shape, layers, c


def flat_size(model_layers, shape):
    """Output size of the stack, or None when torch refuses the random configuration."""
    try:
        with torch.no_grad():
            return nn.Sequential(*model_layers).eval()(torch.zeros(1, *shape)).numel()
    except (RuntimeError, ValueError):
        return None


def stacks():
    out = []
    for i in range(36):
        nd = (1, 2, 3)[i % 3]
        n = None
        while n is None:
            shape, layers, _ = random_stack(nd)
            n = flat_size(layers, shape)
        hidden = random.randint(8, 64)
        head = [nn.Linear(n, hidden), nn.ReLU(), nn.Linear(hidden, random.randint(2, 10))]
        if i % 2 == 0:
            model = nn.Sequential(*layers, nn.Flatten(), *head)
        else:
            model = Net(nn.Sequential(*layers), nn.Sequential(*head))
        out.append((f"stack{i:02d}_{nd}d", model, shape, random.choice([1, 2])))
    return out


def trace(model, shape, batch):
    calls = []
    names = {m: n for n, m in model.named_modules()}
    hooks = []
    for module in model.modules():
        if len(list(module.children())) == 0:
            def hook(m, inputs, output):
                calls.append({"name": names[m], "type": type(m).__name__,
                              "input_shape": list(inputs[0].shape), "output_shape": list(output.shape),
                              "macs": macs(m, inputs[0], output)})
            hooks.append(module.register_forward_hook(hook))
    model.eval()
    with torch.no_grad():
        model(torch.zeros(batch, *shape))
    for h in hooks:
        h.remove()
    return calls


def macs(m, x, y):
    if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        return y.numel() * (m.in_channels // m.groups) * math.prod(m.kernel_size)
    if isinstance(m, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        return x.numel() * (m.out_channels // m.groups) * math.prod(m.kernel_size)
    if isinstance(m, nn.Linear):
        return y.numel() * m.in_features
    return 0


ZOO = [
    ("myconvnet", MyConvNet(), [3, 32, 32], "The seed's MyConvNet: two convs, max pools, a two-layer classifier."),
    ("alexnet", AlexNet(), [3, 224, 224], "AlexNet as torchvision defines it (Krizhevsky et al., 2012)."),
    ("vgg16", VGG([64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]),
     [3, 224, 224], "VGG-16, configuration D, as torchvision defines it (Simonyan & Zisserman, 2014)."),
    ("lenet5", LeNet5(), [1, 32, 32], "LeNet-5 with tanh and average pooling (LeCun et al., 1998)."),
    ("resnet18", ResNet(BasicBlock, [2, 2, 2, 2]), [3, 224, 224],
     "ResNet-18 with BasicBlocks and downsample branches, as torchvision defines it (He et al., 2015)."),
]

models = []
for name, model, shape, *rest in ZOO:
    models.append((name, model, shape, 1))
    (ROOT / "cnncli" / "zoo" / f"{name}.txt").write_text(repr(model) + "\n")
models.append(("resnet50_stem", ResNet(Bottleneck, [1, 1, 1, 1]), [3, 64, 64], 2))
models += stacks()

index = {name: {"input": shape, "description": rest[0]} for name, _, shape, *rest in ZOO}
(ROOT / "cnncli" / "zoo" / "index.json").write_text(json.dumps(index, indent=2) + "\n")

records = []
for name, model, shape, batch in models:
    calls = trace(model, shape, batch)
    records.append({
        "name": name, "repr": repr(model), "input": shape, "batch": batch,
        "total_params": sum(p.numel() for p in model.parameters()),
        "buffers": sum(b.numel() for b in model.buffers()),
        "macs": sum(c["macs"] for c in calls), "layers": calls,
    })
out = ROOT / "tests" / "golden" / "summary.json"
out.write_text("{\"torch\": %s, \"models\": [\n%s\n]}\n" % (
    json.dumps(torch.__version__), ",\n".join(json.dumps(r) for r in records)))
print(f"wrote {out}: {len(records)} models; zoo: {', '.join(index)}")
for r in records[:6]:
    print(f"  {r['name']}: {r['total_params']:,} params, {r['macs']:,} MACs, {len(r['layers'])} leaf calls")
