"""Forward rules for torchvision's classification and segmentation blocks.

Each rule mirrors the ``forward`` named in its ``@rule`` source, checked against
torchvision 0.28. Residual blocks whose upstream code adds the input only when stride
is 1 and channels agree (MobileNet, EfficientNet, MNASNet) add it exactly when the
shapes agree, which is the same condition.
"""

from __future__ import annotations

import math

from cnncli.core.errors import UserError
from cnncli.core.forward.base import (
    Flow,
    Registry,
    Run,
    add,
    avg_pool_built,
    chain,
    concat,
    dense_concat,
    dense_transition,
    flatten,
    gate,
    permute,
    reduce,
    residual,
    resize,
    rule,
    select,
    split,
)
from cnncli.core.model_text import Module

RULES = Registry()
# torchvision classes that subclass nn.Sequential (or run their children in order).
SEQUENTIAL = frozenset(
    {
        "Conv2dNormActivation", "Conv3dNormActivation", "Conv1dNormActivation",
        "ConvNormActivation", "MLP", "MLPBlock", "_Transition", "SimpleStemIN", "AnyStage",
        "BottleneckTransform", "FCNHead", "DeepLabHead", "ASPPConv", "IntermediateLayerGetter",
    }
)  # fmt: skip


def children_in_order(block: Module, run: Run, x: Flow) -> Flow:
    for child in block.children:
        x = run.module(child, x)
    return x


def residual_if_same(x: Flow, y: Flow) -> Flow:
    return add(y, x) if y.shape == x.shape else y


# ------------------------------------------------------------------ ResNet ---


@RULES.add("BasicBlock")
@rule("torchvision BasicBlock.forward", "conv1 bn1 relu conv2 bn2", "downsample")
def basic_block(b: Module, x: Flow, run: Run) -> Flow:
    return residual(run, x, "conv1 bn1 relu conv2 bn2", "relu")  # the same ReLU, twice


@RULES.add("Bottleneck")
@rule("torchvision Bottleneck.forward", "conv1 bn1 conv2 bn2 conv3 bn3 relu", "downsample")
def bottleneck(b: Module, x: Flow, run: Run) -> Flow:
    return residual(run, x, "conv1 bn1 relu conv2 bn2 relu conv3 bn3", "relu")


@RULES.add("ResNet")
@rule(
    "torchvision ResNet._forward_impl",
    "conv1 bn1 relu maxpool layer1 layer2 layer3 layer4 avgpool fc",
)
def resnet(b: Module, x: Flow, run: Run) -> Flow:
    x = chain(run, "conv1 bn1 relu maxpool layer1 layer2 layer3 layer4 avgpool", x)
    return run("fc", flatten(x, 1))


# ------------------------------------------------------------- plain stacks ---


@RULES.add("AlexNet", "VGG")
@rule("torchvision AlexNet.forward / VGG.forward", "features avgpool classifier")
def features_pool_classifier(b: Module, x: Flow, run: Run) -> Flow:
    x = run("avgpool", run("features", x))
    return run("classifier", flatten(x, 1))


@RULES.add("SqueezeNet")
@rule("torchvision SqueezeNet.forward", "features classifier")
def squeezenet(b: Module, x: Flow, run: Run) -> Flow:
    return flatten(run("classifier", run("features", x)), 1)


@RULES.add("Fire")
@rule(
    "torchvision Fire.forward",
    "squeeze squeeze_activation expand1x1 expand1x1_activation expand3x3 expand3x3_activation",
)
def fire(b: Module, x: Flow, run: Run) -> Flow:
    x = run("squeeze_activation", run("squeeze", x))
    left = run("expand1x1_activation", run("expand1x1", x))
    right = run("expand3x3_activation", run("expand3x3", x))
    return concat([left, right], 1)


# ---------------------------------------------------------------- DenseNet ---


@RULES.add("DenseNet")
@rule("torchvision DenseNet.forward", "features classifier")
def densenet(b: Module, x: Flow, run: Run) -> Flow:
    x = run("features", x)  # then F.relu, F.adaptive_avg_pool2d(1), torch.flatten
    return run("classifier", flatten(resize(x, (1, 1)), 1))


RULES.add("_DenseBlock")(rule("torchvision _DenseBlock.forward")(dense_concat))


RULES.add("_Transition")(
    rule(
        "torchvision densenet._Transition (a Sequential; AvgPool2d(2, 2): ceil_mode=False)",
        "norm relu conv pool",
    )(dense_transition("norm relu conv pool"))
)


@RULES.add("_DenseLayer")
@rule("torchvision _DenseLayer.forward", "norm1 relu1 conv1 norm2 relu2 conv2")
def dense_layer(b: Module, x: Flow, run: Run) -> Flow:
    return chain(run, "norm1 relu1 conv1 norm2 relu2 conv2", x)


# --------------------------------------------------------- GoogLeNet, Inception ---


@RULES.add("GoogLeNet")
@rule(
    "torchvision GoogLeNet._forward (eval: the aux heads do not run)",
    "conv1 maxpool1 conv2 conv3 maxpool2 inception3a inception3b maxpool3 inception4a "
    "inception4b inception4c inception4d inception4e maxpool4 inception5a inception5b "
    "avgpool dropout fc",
    "aux1 aux2",
)
def googlenet(b: Module, x: Flow, run: Run) -> Flow:
    x = chain(
        run,
        "conv1 maxpool1 conv2 conv3 maxpool2 inception3a inception3b maxpool3 inception4a "
        "inception4b inception4c inception4d inception4e maxpool4 inception5a inception5b avgpool",
        x,
    )
    if run.has("aux1"):
        run.note("aux1/aux2 run only in training; shapes are those of eval mode")
    return run("fc", run("dropout", flatten(x, 1)))


@RULES.add("Inception")
@rule("torchvision Inception._forward", "branch1 branch2 branch3 branch4")
def googlenet_inception(b: Module, x: Flow, run: Run) -> Flow:
    return concat([run(f"branch{i}", x) for i in range(1, 5)], 1)


@RULES.add("BasicConv2d")
@rule("torchvision BasicConv2d.forward (conv, bn, F.relu)", "conv bn")
def basic_conv(b: Module, x: Flow, run: Run) -> Flow:
    return run("bn", run("conv", x))


@RULES.add("Inception3")
@rule(
    "torchvision Inception3._forward (eval: AuxLogits does not run)",
    "Conv2d_1a_3x3 Conv2d_2a_3x3 Conv2d_2b_3x3 maxpool1 Conv2d_3b_1x1 Conv2d_4a_3x3 maxpool2 "
    "Mixed_5b Mixed_5c Mixed_5d Mixed_6a Mixed_6b Mixed_6c Mixed_6d Mixed_6e Mixed_7a Mixed_7b "
    "Mixed_7c avgpool dropout fc",
    "AuxLogits",
)
def inception3(b: Module, x: Flow, run: Run) -> Flow:
    names = [c.name for c in b.children if c.name not in ("AuxLogits", "fc")]
    for name in names:
        x = run(name, x)
        if name == "dropout":
            x = flatten(x, 1)
    if run.has("AuxLogits"):
        run.note("AuxLogits runs only in training; shapes are those of eval mode")
    return run("fc", x)


def _pool_branch(x: Flow, kernel: int, stride: int, padding: int) -> Flow:
    n, c, h, w = x.shape
    return Flow(
        (n, c, (h + 2 * padding - kernel) // stride + 1, (w + 2 * padding - kernel) // stride + 1)
    )


def _branches(run: Run, x: Flow, *chains: str) -> list[Flow]:
    return [chain(run, names, x) for names in chains]


@RULES.add("InceptionA")
@rule(
    "torchvision InceptionA._forward",
    "branch1x1 branch5x5_1 branch5x5_2 branch3x3dbl_1 branch3x3dbl_2 branch3x3dbl_3 branch_pool",
)
def inception_a(b: Module, x: Flow, run: Run) -> Flow:
    parts = _branches(
        run,
        x,
        "branch1x1",
        "branch5x5_1 branch5x5_2",
        "branch3x3dbl_1 branch3x3dbl_2 branch3x3dbl_3",
    )
    return concat([*parts, run("branch_pool", _pool_branch(x, 3, 1, 1))], 1)


@RULES.add("InceptionB")
@rule(
    "torchvision InceptionB._forward",
    "branch3x3 branch3x3dbl_1 branch3x3dbl_2 branch3x3dbl_3",
)
def inception_b(b: Module, x: Flow, run: Run) -> Flow:
    parts = _branches(run, x, "branch3x3", "branch3x3dbl_1 branch3x3dbl_2 branch3x3dbl_3")
    return concat([*parts, _pool_branch(x, 3, 2, 0)], 1)


@RULES.add("InceptionC")
@rule(
    "torchvision InceptionC._forward",
    "branch1x1 branch7x7_1 branch7x7_2 branch7x7_3 branch7x7dbl_1 branch7x7dbl_2 "
    "branch7x7dbl_3 branch7x7dbl_4 branch7x7dbl_5 branch_pool",
)
def inception_c(b: Module, x: Flow, run: Run) -> Flow:
    parts = _branches(
        run,
        x,
        "branch1x1",
        "branch7x7_1 branch7x7_2 branch7x7_3",
        "branch7x7dbl_1 branch7x7dbl_2 branch7x7dbl_3 branch7x7dbl_4 branch7x7dbl_5",
    )
    return concat([*parts, run("branch_pool", _pool_branch(x, 3, 1, 1))], 1)


@RULES.add("InceptionD")
@rule(
    "torchvision InceptionD._forward",
    "branch3x3_1 branch3x3_2 branch7x7x3_1 branch7x7x3_2 branch7x7x3_3 branch7x7x3_4",
)
def inception_d(b: Module, x: Flow, run: Run) -> Flow:
    parts = _branches(
        run, x, "branch3x3_1 branch3x3_2", "branch7x7x3_1 branch7x7x3_2 branch7x7x3_3 branch7x7x3_4"
    )
    return concat([*parts, _pool_branch(x, 3, 2, 0)], 1)


@RULES.add("InceptionE")
@rule(
    "torchvision InceptionE._forward",
    "branch1x1 branch3x3_1 branch3x3_2a branch3x3_2b branch3x3dbl_1 branch3x3dbl_2 "
    "branch3x3dbl_3a branch3x3dbl_3b branch_pool",
)
def inception_e(b: Module, x: Flow, run: Run) -> Flow:
    one = run("branch1x1", x)
    t = run("branch3x3_1", x)
    three = concat([run("branch3x3_2a", t), run("branch3x3_2b", t)], 1)
    d = run("branch3x3dbl_2", run("branch3x3dbl_1", x))
    double = concat([run("branch3x3dbl_3a", d), run("branch3x3dbl_3b", d)], 1)
    return concat([one, three, double, run("branch_pool", _pool_branch(x, 3, 1, 1))], 1)


@RULES.add("InceptionAux")
@rule("torchvision InceptionAux.forward (training only)")
def inception_aux(b: Module, x: Flow, run: Run) -> Flow:
    raise UserError(f"{b.label}: an auxiliary head runs only in training")


# ------------------------------------------------- MobileNet, EfficientNet, MNASNet ---


@RULES.add("MobileNetV2")
@rule("torchvision MobileNetV2._forward_impl", "features classifier")
def mobilenet_v2(b: Module, x: Flow, run: Run) -> Flow:
    x = run("features", x)  # then F.adaptive_avg_pool2d(x, (1, 1)) and torch.flatten
    return run("classifier", flatten(resize(x, (1, 1)), 1))


@RULES.add("MobileNetV3", "EfficientNet")
@rule(
    "torchvision MobileNetV3._forward_impl / EfficientNet._forward_impl",
    "features avgpool classifier",
)
def pooled_classifier(b: Module, x: Flow, run: Run) -> Flow:
    return run("classifier", flatten(run("avgpool", run("features", x)), 1))


@RULES.add("InvertedResidual")
@rule("torchvision mobilenetv2.InvertedResidual.forward", "conv")
def inverted_residual_v2(b: Module, x: Flow, run: Run) -> Flow:
    return residual_if_same(x, run("conv", x))


@RULES.add("InvertedResidual")
@rule("torchvision mobilenetv3.InvertedResidual.forward", "block")
def inverted_residual_v3(b: Module, x: Flow, run: Run) -> Flow:
    return residual_if_same(x, run("block", x))


@RULES.add("InvertedResidual")
@rule("torchvision shufflenetv2.InvertedResidual.forward", "branch1 branch2")
def shuffle_unit(b: Module, x: Flow, run: Run) -> Flow:
    branch1 = b.child("branch1")
    if branch1 is not None and branch1.children:
        return concat([run("branch1", x), run("branch2", x)], 1)  # stride 2
    # stride 1: x.chunk(2, dim=1), the second half through branch2; branch1 is empty
    half = -(-x.shape[1] // 2)
    first, second = split(x, [half, x.shape[1] - half], 1)
    return concat([first, run("branch2", second)], 1)


@RULES.add("MBConv", "FusedMBConv")
@rule("torchvision MBConv.forward / FusedMBConv.forward", "block stochastic_depth")
def mbconv(b: Module, x: Flow, run: Run) -> Flow:
    y = run("block", x)
    if y.shape != x.shape:
        return y
    return add(run("stochastic_depth", y), x)


@RULES.add("SqueezeExcitation")
@rule(
    "torchvision.ops SqueezeExcitation.forward",
    "avgpool fc1 fc2 activation scale_activation",
)
def squeeze_excitation(b: Module, x: Flow, run: Run) -> Flow:
    s = chain(run, "avgpool fc1 activation fc2 scale_activation", x)
    return gate(x, s)


@RULES.add("MNASNet")
@rule("torchvision MNASNet.forward", "layers classifier")
def mnasnet(b: Module, x: Flow, run: Run) -> Flow:
    return run("classifier", reduce(run("layers", x), [2, 3]))


@RULES.add("_InvertedResidual")
@rule("torchvision mnasnet._InvertedResidual.forward", "layers")
def mnas_inverted_residual(b: Module, x: Flow, run: Run) -> Flow:
    return residual_if_same(x, run("layers", x))


@RULES.add("ShuffleNetV2")
@rule(
    "torchvision ShuffleNetV2._forward_impl",
    "conv1 maxpool stage2 stage3 stage4 conv5 fc",
)
def shufflenet(b: Module, x: Flow, run: Run) -> Flow:
    x = chain(run, "conv1 maxpool stage2 stage3 stage4 conv5", x)
    return run("fc", reduce(x, [2, 3]))


# ------------------------------------------------------------------- RegNet ---


@RULES.add("RegNet")
@rule("torchvision RegNet.forward", "stem trunk_output avgpool fc")
def regnet(b: Module, x: Flow, run: Run) -> Flow:
    return run("fc", flatten(chain(run, "stem trunk_output avgpool", x), 1))


@RULES.add("ResBottleneckBlock")
@rule("torchvision ResBottleneckBlock.forward", "f activation", "proj")
def res_bottleneck(b: Module, x: Flow, run: Run) -> Flow:
    shortcut = run("proj", x) if run.has("proj") else x
    return run("activation", add(shortcut, run("f", x)))


# ----------------------------------------------------------------- ConvNeXt ---


@RULES.add("ConvNeXt")
@rule("torchvision ConvNeXt._forward_impl", "features avgpool classifier")
def convnext(b: Module, x: Flow, run: Run) -> Flow:
    return run("classifier", run("avgpool", run("features", x)))


@RULES.add("CNBlock")
@rule("torchvision CNBlock.forward", "block stochastic_depth", hidden=True)
def cn_block(b: Module, x: Flow, run: Run) -> Flow:
    run.param("layer_scale", (x.shape[1], 1, 1))
    block = run.child("block")
    # block = Sequential(dwconv, Permute([0, 2, 3, 1]), LayerNorm, Linear, GELU, Linear,
    # Permute([0, 3, 1, 2])): channels go last for the LayerNorm and Linears, then back.
    orders = iter([(0, 2, 3, 1), (0, 3, 1, 2)])
    y = x
    for child in block.children:
        if child.kind == "Permute":
            y = run.known(child, permute(y, next(orders, (0, 3, 1, 2))))
        else:
            y = run.module(child, y)
    return add(run("stochastic_depth", y), x)


# ------------------------------------------------------------- Transformers ---


@RULES.add("VisionTransformer")
@rule("torchvision VisionTransformer.forward", "conv_proj encoder heads", hidden=True)
def vision_transformer(b: Module, x: Flow, run: Run) -> Flow:
    run.assume(
        f"image_size assumed to be the input's {' x '.join(map(str, x.shape[2:]))}: the repr "
        "does not print it, the model runs only at the size it was built for, and "
        "pos_embedding's size follows from it"
    )
    x = run("conv_proj", x)
    n, d = x.shape[0], x.shape[1]
    tokens = permute(x.reshaped((n, d, math.prod(x.shape[2:]))), (0, 2, 1))
    run.param("class_token", (1, 1, d))
    tokens = concat([Flow((n, 1, d)), tokens], 1)
    return run("heads", select(run("encoder", tokens), 1))


@RULES.add("Encoder")
@rule("torchvision vision_transformer.Encoder.forward", "dropout layers ln", hidden=True)
def vit_encoder(b: Module, x: Flow, run: Run) -> Flow:
    run.param("pos_embedding", (1, *x.shape[1:]))
    return chain(run, "dropout layers ln", x)


@RULES.add("EncoderBlock")
@rule("torchvision EncoderBlock.forward", "ln_1 self_attention dropout ln_2 mlp")
def vit_encoder_block(b: Module, x: Flow, run: Run) -> Flow:
    y = run("dropout", run("self_attention", run("ln_1", x)))
    y = add(y, x)
    return add(y, run("mlp", run("ln_2", y)))


@RULES.add("SwinTransformer")
@rule("torchvision SwinTransformer.forward", "features norm permute avgpool flatten head")
def swin(b: Module, x: Flow, run: Run) -> Flow:

    def patch_embedding(stage: Module, x: Flow) -> Flow | None:
        if not any(child.kind == "Permute" for child in stage.children):
            return None
        for child in stage.children:  # conv, Permute([0, 2, 3, 1]), LayerNorm
            if child.kind == "Permute":
                x = run.known(child, permute(x, (0, 2, 3, 1)))
            else:
                x = run.module(child, x)
        return x

    x = run("norm", run.each("features", x, patch_embedding)[-1])
    x = run.known("permute", permute(x, (0, 3, 1, 2)))
    return chain(run, "avgpool flatten head", x)


@RULES.add("SwinTransformerBlock", "SwinTransformerBlockV2")
@rule(
    "torchvision SwinTransformerBlock.forward / SwinTransformerBlockV2.forward",
    "norm1 attn stochastic_depth norm2 mlp",
)
def swin_block(b: Module, x: Flow, run: Run) -> Flow:
    if b.kind.endswith("V2"):
        y = add(x, run("stochastic_depth", run("norm1", run("attn", x))))
        return add(y, run("stochastic_depth", run("norm2", run("mlp", y))))
    y = add(x, run("stochastic_depth", run("attn", run("norm1", x))))
    return add(y, run("stochastic_depth", run("mlp", run("norm2", y))))


def _swin_window(b: Module) -> int:
    return 8 if b.kind.endswith("V2") else 7


@RULES.add("ShiftedWindowAttention", "ShiftedWindowAttentionV2")
@rule(
    "torchvision ShiftedWindowAttention(V2).forward (shifted_window_attention)",
    "qkv proj",
    "cpb_mlp",
    hidden=True,
)
def shifted_window_attention(b: Module, x: Flow, run: Run) -> Flow:
    window = _swin_window(b)
    n, h, w, c = x.shape
    table = (2 * window - 1) ** 2
    mlp = b.child("cpb_mlp")
    if mlp is not None:  # V2: heads = the continuous position bias MLP's output size
        bias = Flow((1, 2 * window - 1, 2 * window - 1, 2))
        for child in mlp.children:
            bias = run.module(child, bias)
        heads = bias.shape[-1]
        run.param("logit_scale", (heads, 1, 1))
        run.buffer("relative_coords_table", (*bias.shape[:-1], 2))
        run.note(f"window {window}x{window} assumed, as in torchvision's swin_v2 builders")
    else:
        heads = max(1, c // 32)
        run.param("relative_position_bias_table", (table, heads))
        run.note(
            f"window {window}x{window} and {heads} heads (32 channels each) assumed, as in "
            "torchvision's swin_t/s/b builders; the repr does not print them"
        )
    run.buffer("relative_position_index", (window**4,))
    # qkv and proj run as F.linear on the tokens padded to whole windows.
    padded = n * (-(-h // window) * window) * (-(-w // window) * window)
    run.known("qkv", Flow((n, h, w, 3 * c)), padded * c * 3 * c)
    run.known("proj", x, padded * c * c)
    return x


@RULES.add("PatchMerging", "PatchMergingV2")
@rule("torchvision PatchMerging(V2).forward (_patch_merging_pad: 2x2 -> 4C)", "reduction norm")
def patch_merging(b: Module, x: Flow, run: Run) -> Flow:
    n, h, w, c = x.shape
    merged = Flow((n, -(-h // 2), -(-w // 2), 4 * c))
    if b.kind.endswith("V2"):
        return run("norm", run("reduction", merged))
    return run("reduction", run("norm", merged))


# ------------------------------------------------------------- segmentation ---


@RULES.add("FCN", "DeepLabV3")
@rule(
    "torchvision _SimpleSegmentationModel.forward (output 'out', interpolated to the input)",
    "backbone classifier",
    "aux_classifier",
)
def simple_segmentation(b: Module, x: Flow, run: Run) -> Flow:
    features = _layer_getter(b, x, run)
    out = resize(run("classifier", features[-1]), x.shape[2:])
    aux = b.child("aux_classifier")
    if aux is not None:
        wanted = _first_in_channels(aux)
        source = next((f for f in features if f.shape[1] == wanted), None)
        if source is not None:
            run("aux_classifier", source)
    return out


def _layer_getter(b: Module, x: Flow, run: Run) -> list[Flow]:
    """IntermediateLayerGetter: every child's output, in order (return_layers pick from them)."""
    return run.each("backbone", x)


def _first_in_channels(module: Module) -> int | None:
    for inner in module.walk():
        if inner.layer is not None and "in_channels" in inner.layer.args:
            return inner.layer.integer("in_channels")
    return None


@RULES.add("ASPP")
@rule("torchvision ASPP.forward", "convs project")
def aspp(b: Module, x: Flow, run: Run) -> Flow:
    convs = run.child("convs")
    return run("project", concat([run.module(c, x) for c in convs.children], 1))


@RULES.add("ASPPPooling")
@rule("torchvision ASPPPooling.forward (then F.interpolate back to the input size)")
def aspp_pooling(b: Module, x: Flow, run: Run) -> Flow:
    return resize(children_in_order(b, run, x), x.shape[2:])


@RULES.add("LRASPP")
@rule("torchvision LRASPP.forward", "backbone classifier")
def lraspp(b: Module, x: Flow, run: Run) -> Flow:
    features = _layer_getter(b, x, run)
    head = run.child("classifier")
    low_channels = _first_in_channels(head.child("low_classifier") or head)
    low = next((f for f in features if f.shape[1] == low_channels), None)
    if low is None:
        raise UserError(
            f"{b.label}: no backbone stage gives the {low_channels} channels low_classifier takes"
        )
    out = run.called("classifier", _lraspp_head(head, low, features[-1], run))
    return resize(out, x.shape[2:])


def _lraspp_head(head: Module, low: Flow, high: Flow, run: Run) -> Flow:
    """torchvision LRASPPHead.forward: cbr(high) * scale(high), upsampled, + low branch."""
    parts = {c.name: c for c in head.children}
    y = run.module(parts["cbr"], high)
    s = run.module(parts["scale"], high)
    y = resize(gate(y, s), low.shape[2:])
    return add(run.module(parts["low_classifier"], low), run.module(parts["high_classifier"], y))


@RULES.add("LRASPPHead")
@rule("torchvision LRASPPHead.forward (takes the backbone's dict)")
def lraspp_head(b: Module, x: Flow, run: Run) -> Flow:
    raise UserError(f"{b.label}: runs inside LRASPP, on the backbone's low and high features")


# ------------------------------------------------------------------- MaxViT ---

MAXVIT_PARTITION = 7  # maxvit_t's partition_size, which the repr does not print


@RULES.add("MaxVit")
@rule("torchvision MaxVit.forward", "stem blocks classifier")
def maxvit(b: Module, x: Flow, run: Run) -> Flow:
    x = run("stem", x)
    blocks = run.child("blocks")
    for block in blocks.children:
        x = run.module(block, x)
    return run("classifier", x)


@RULES.add("MaxVitBlock")
@rule("torchvision MaxVitBlock.forward", "layers")
def maxvit_block(b: Module, x: Flow, run: Run) -> Flow:
    layers = run.child("layers")
    for layer in layers.children:
        x = run.module(layer, x)
    return x


@RULES.add("MaxVitLayer")
@rule("torchvision MaxVitLayer.forward", "layers")
def maxvit_layer(b: Module, x: Flow, run: Run) -> Flow:
    return run("layers", x)


@RULES.add("MBConv")
@rule("torchvision maxvit.MBConv.forward", "proj stochastic_depth layers")
def maxvit_mbconv(b: Module, x: Flow, run: Run) -> Flow:
    # proj: Sequential(AvgPool2d(3, stride, padding=1), conv): ceil_mode=False
    avg_pool_built(run, b.child("proj"), ceil_mode=False)
    shortcut = run("proj", x)
    return add(shortcut, run("stochastic_depth", run("layers", x)))


@RULES.add("PartitionAttentionLayer")
@rule(
    "torchvision PartitionAttentionLayer.forward",
    "partition_op departition_op partition_swap departition_swap attn_layer mlp_layer "
    "stochastic_dropout",
)
def partition_attention(b: Module, x: Flow, run: Run) -> Flow:
    n, c, h, w = x.shape
    p = MAXVIT_PARTITION
    if h % p or w % p:
        raise UserError(f"{b.label}: a {h}x{w} grid does not split into {p}x{p} partitions")
    run.note(f"partition size {p} assumed, as in torchvision's maxvit_t")
    # window: [B, HW/p², p², C]; grid: the same shape once SwapAxes(-2, -3) has run
    tokens = run.known("partition_op", Flow((n, h * w // (p * p), p * p, c)))
    tokens = run.known("partition_swap", tokens)
    tokens = add(tokens, run("stochastic_dropout", run("attn_layer", tokens)))
    tokens = add(tokens, run("stochastic_dropout", run("mlp_layer", tokens)))
    run.known("departition_swap", tokens)
    return run.known("departition_op", x)


@RULES.add("RelativePositionalMultiHeadAttention")
@rule(
    "torchvision RelativePositionalMultiHeadAttention.forward (32 channels per head)",
    "to_qkv merge",
    hidden=True,
)
def relative_attention(b: Module, x: Flow, run: Run) -> Flow:
    channels, tokens = x.shape[-1], x.shape[-2]
    size = math.isqrt(tokens)
    run.param("relative_position_bias_table", ((2 * size - 1) ** 2, max(1, channels // 32)))
    run.buffer("relative_position_index", (tokens, tokens))
    run("to_qkv", x)
    return run("merge", x)
