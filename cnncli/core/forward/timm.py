"""Forward rules for timm's blocks and layer types, checked against timm 1.0.31.

Most timm models print their children in forward order (``forward_features`` then
``forward_head``); :func:`in_order` makes a rule for such a class that applies only when the
printed children are the upstream ones. Residual blocks add their shortcut when timm's
``has_skip`` holds, which for stride 1 and equal channels is when the shapes agree.
"""

from __future__ import annotations

import re

from cnncli.core.errors import UserError
from cnncli.core.forward.base import (
    Flow,
    Registry,
    Rule,
    Run,
    add,
    avg_pool_built,
    chain,
    dense_concat,
    dense_transition,
    gate,
    permute,
    reduce,
    residual,
    rule,
)
from cnncli.core.model_text import Module

RULES = Registry()
# timm classes that subclass nn.Sequential.
SEQUENTIAL = frozenset({"DenseTransition", "RegStage", "ConvNeXtStageSeq"})


def in_order(source: str, children: str, optional: str = "") -> Rule:
    """A rule for a class whose forward calls its children in the printed order."""

    def forward(b: Module, x: Flow, run: Run) -> Flow:
        for child in b.children:
            x = run.module(child, x)
        return x

    return rule(source, children, optional)(forward)


def _register_in_order(names: str, source: str, children: str, optional: str = "") -> None:
    RULES.add(*names.split())(in_order(source, children, optional))


_register_in_order(
    "ResNet",
    "timm ResNet.forward_features + forward_head",
    "conv1 bn1 act1 maxpool layer1 layer2 layer3 layer4 global_pool fc",
)
_register_in_order(
    "EfficientNet",
    "timm EfficientNet.forward_features + forward_head",
    "conv_stem bn1 blocks conv_head bn2 global_pool classifier",
)
_register_in_order(
    "MobileNetV3",
    "timm MobileNetV3.forward_features + forward_head",
    "conv_stem bn1 blocks global_pool conv_head norm_head act2 flatten classifier",
)
_register_in_order(
    "ConvNeXt", "timm ConvNeXt.forward_features + forward_head", "stem stages norm_pre head"
)
_register_in_order("ConvNeXtStage", "timm ConvNeXtStage.forward", "downsample blocks")
_register_in_order(
    "RegNet", "timm RegNet.forward_features + forward_head", "stem s1 s2 s3 s4 final_conv head"
)
_register_in_order(
    "DenseNet",
    "timm DenseNet.forward_features + forward_head",
    "features global_pool head_drop classifier",
)
_register_in_order("VGG", "timm VGG.forward_features + forward_head", "features pre_logits head")
_register_in_order("ConvMlp", "timm vgg.ConvMlp.forward (224 px and up)", "fc1 act1 drop fc2 act2")
_register_in_order(
    "ByobNet", "timm ByobNet.forward_features + forward_head", "stem stages final_conv head"
)
_register_in_order("ConvNormAct", "timm ConvNormAct.forward", "conv bn", "aa")
_register_in_order("ClassifierHead", "timm ClassifierHead.forward", "global_pool drop fc flatten")
_register_in_order(
    "NormMlpClassifierHead",
    "timm NormMlpClassifierHead.forward",
    "global_pool norm flatten pre_logits drop fc",
)
_register_in_order("Mlp", "timm Mlp.forward", "fc1 act drop1 norm fc2 drop2")


@RULES.add("StochasticDepth", "DropPath", "DropBlock2d")
@rule("torchvision.ops StochasticDepth / timm DropPath, DropBlock2d: the identity in eval", "")
def identity(b: Module, x: Flow, run: Run) -> Flow:
    return x


_POOL = re.compile(r"pool_type=(?P<pool>\w*), flatten=(?P<flatten>\w+)")


@RULES.add("SelectAdaptivePool2d")
@rule("timm SelectAdaptivePool2d.forward (pool to 1x1, then flatten or not)", "", "pool flatten")
def select_adaptive_pool(b: Module, x: Flow, run: Run) -> Flow:
    if b.children:  # printed with children when its repr is the default one
        return run("flatten", run("pool", x))
    match = _POOL.search(b.text)
    if match is None:
        raise UserError(f"{b.label}: cannot read its pool_type and flatten from {b.text!r}")
    pool = match["pool"]
    if pool == "":
        return x  # no pooling: the identity
    channels = 2 * x.shape[1] if pool.startswith("cat") else x.shape[1]
    if match["flatten"] == "Flatten":
        return x.reshaped((x.shape[0], channels))
    return x.reshaped((x.shape[0], channels, 1, 1))


@RULES.add("BatchNormAct2d", "GroupNormAct", "GroupNorm1Act", "LayerNormAct2d")
@rule("timm norm_act: the norm itself, then drop, then act", "drop act")
def norm_act(b: Module, x: Flow, run: Run) -> Flow:
    return run("act", run("drop", run.itself(x)))


def _residual(run: Run, x: Flow, y: Flow) -> Flow:
    """``x = drop_path(x) + shortcut`` when timm's has_skip holds (same shape here)."""
    if y.shape != x.shape:
        return y
    if run.has("drop_path"):
        y = run("drop_path", y)
    return add(y, x)


# ------------------------------------------------------------------ ResNet ---


def _avg_down(b: Module, run: Run) -> None:
    """timm's ``downsample_avg`` (ResNet-D, RegNet): Sequential(AvgPool2d(2, stride,
    ceil_mode=True, count_include_pad=False), conv, norm) when the block strides."""
    avg_pool_built(run, b.child("downsample"), ceil_mode=True, count_include_pad=False)


@RULES.add("BasicBlock")
@rule(
    "timm resnet.BasicBlock.forward",
    "conv1 bn1 drop_block act1 aa conv2 bn2 act2",
    "se drop_path downsample",
)
def timm_basic_block(b: Module, x: Flow, run: Run) -> Flow:
    _avg_down(b, run)
    return residual(run, x, "conv1 bn1 drop_block act1 aa conv2 bn2 se drop_path", "act2")


@RULES.add("Bottleneck")
@rule(
    "timm resnet.Bottleneck.forward",
    "conv1 bn1 act1 conv2 bn2 drop_block act2 aa conv3 bn3 act3",
    "se drop_path downsample",
)
def timm_bottleneck(b: Module, x: Flow, run: Run) -> Flow:
    main = "conv1 bn1 act1 conv2 bn2 drop_block act2 aa conv3 bn3 se drop_path"
    _avg_down(b, run)
    return residual(run, x, main, "act3")


@RULES.add("Bottleneck")
@rule(
    "timm regnet.Bottleneck.forward",
    "conv1 conv2 se conv3 act3",
    "downsample drop_path attn",
)
def regnet_bottleneck(b: Module, x: Flow, run: Run) -> Flow:
    _avg_down(b, run)
    y = chain(run, "conv1 conv2 attn se conv3", x)
    if run.has("downsample"):
        y = add(run("drop_path", y) if run.has("drop_path") else y, run("downsample", x))
    return run("act3", y)


@RULES.add("SEModule")
@rule(
    "timm SEModule.forward (x.mean((2, 3), keepdim=True) -> fc1 -> bn -> act -> fc2)",
    "fc1 act fc2 gate",
    "bn",
)
def se_module(b: Module, x: Flow, run: Run) -> Flow:
    s = chain(run, "fc1 bn act fc2 gate", reduce(x, [2, 3], keepdim=True))
    return gate(x, s)


@RULES.add("EcaModule")
@rule("timm EcaModule.forward (a Conv1d over the channel means)", "conv gate", "act conv2")
def eca_module(b: Module, x: Flow, run: Run) -> Flow:
    y = chain(run, "conv act conv2 gate", x.reshaped((x.shape[0], 1, x.shape[1])))
    return gate(x, y.reshaped((x.shape[0], y.shape[-1], 1, 1)))


# ------------------------------------------------------------ EfficientNet ---


@RULES.add("SqueezeExcite")
@rule("timm _efficientnet_blocks.SqueezeExcite.forward", "conv_reduce act1 conv_expand gate")
def squeeze_excite(b: Module, x: Flow, run: Run) -> Flow:
    s = chain(run, "conv_reduce act1 conv_expand gate", reduce(x, [2, 3], keepdim=True))
    return gate(x, s)


@RULES.add("DepthwiseSeparableConv")
@rule(
    "timm DepthwiseSeparableConv.forward",
    "conv_dw bn1 aa se conv_pw bn2 drop_path",
    "conv_s2d bn_s2d",
)
def depthwise_separable(b: Module, x: Flow, run: Run) -> Flow:
    return _residual(run, x, chain(run, "conv_s2d bn_s2d conv_dw bn1 aa se conv_pw bn2", x))


@RULES.add("InvertedResidual")
@rule(
    "timm _efficientnet_blocks.InvertedResidual.forward",
    "conv_pw bn1 conv_dw bn2 aa se conv_pwl bn3 drop_path",
    "conv_s2d bn_s2d",
)
def timm_inverted_residual(b: Module, x: Flow, run: Run) -> Flow:
    y = chain(run, "conv_s2d bn_s2d conv_pw bn1 conv_dw bn2 aa se conv_pwl bn3", x)
    return _residual(run, x, y)


@RULES.add("EdgeResidual")
@rule("timm EdgeResidual.forward", "conv_exp bn1 aa se conv_pwl bn2 drop_path")
def edge_residual(b: Module, x: Flow, run: Run) -> Flow:
    return _residual(run, x, chain(run, "conv_exp bn1 aa se conv_pwl bn2", x))


@RULES.add("ConvBnAct")
@rule("timm _efficientnet_blocks.ConvBnAct.forward", "conv bn1 aa drop_path")
def conv_bn_act(b: Module, x: Flow, run: Run) -> Flow:
    return _residual(run, x, chain(run, "conv bn1 aa", x))


# ---------------------------------------------------------------- ConvNeXt ---


@RULES.add("ConvNeXtBlock")
@rule(
    "timm convnext.ConvNeXtBlock.forward (gamma: a layer scale of out_chs)",
    "conv_dw norm mlp shortcut drop_path",
    hidden=True,
)
def convnext_block(b: Module, x: Flow, run: Run) -> Flow:
    y = run("conv_dw", x)
    norm = b.child("norm")
    if norm is not None and norm.kind == "LayerNorm":  # channels last around norm and mlp
        y = permute(run("mlp", run("norm", permute(y, (0, 2, 3, 1)))), (0, 3, 1, 2))
    else:
        y = run("mlp", run("norm", y))
    run.param("gamma", (y.shape[1],))
    run.note("gamma (layer scale) assumed present, as timm's ls_init_value=1e-6 default makes it")
    return add(run("drop_path", y), run("shortcut", x))


# ------------------------------------------------------------------ DenseNet ---


RULES.add("DenseBlock")(rule("timm densenet.DenseBlock.forward")(dense_concat))


RULES.add("DenseTransition")(
    rule(
        "timm densenet.DenseTransition (a Sequential; AvgPool2d(2, 2), ceil_mode=False)",
        "norm conv pool",
    )(dense_transition("norm conv pool"))
)


@RULES.add("DenseLayer")
@rule("timm densenet.DenseLayer.forward", "norm1 conv1 norm2 conv2")
def dense_layer(b: Module, x: Flow, run: Run) -> Flow:
    return chain(run, "norm1 conv1 norm2 conv2", x)


# ------------------------------------------------------------------- RepVGG ---


@RULES.add("RepVggBlock")
@rule(
    "timm byobnet.RepVggBlock.forward (conv_1x1 + conv_kxk, + identity)",
    "conv_kxk conv_1x1 attn drop_path act",
    "identity",
)
def repvgg_block(b: Module, x: Flow, run: Run) -> Flow:
    identity_branch = run("identity", x) if run.has("identity") else None
    y = add(run("conv_1x1", x), run("conv_kxk", x))
    if identity_branch is not None:
        y = add(run("drop_path", y), identity_branch)
    return run("act", run("attn", y))


# ------------------------------------------------------------ Transformers ---

_register_in_order(
    "SwinTransformerStage",
    "timm swin_transformer.SwinTransformerStage.forward",
    "downsample blocks",
)


def _patches_channels_last(run: Run, x: Flow) -> Flow:
    """timm PatchEmbed.forward with output_fmt NHWC (Swin): proj, then NHWC, then norm."""

    def step(child: Module, y: Flow) -> Flow | None:
        return run.module(child, permute(y, (0, 2, 3, 1))) if child.name == "norm" else None

    return run.each("patch_embed", x, step)[-1]


def flatten_spatial(x: Flow) -> Flow:
    n, c = x.shape[0], x.shape[1]
    size = 1
    for s in x.shape[2:]:
        size *= s
    return x.reshaped((n, c, size))


@RULES.add("PatchEmbed")
@rule("timm PatchEmbed.forward (flatten=True: proj -> NLC -> norm)", "proj norm")
def patch_embed(b: Module, x: Flow, run: Run) -> Flow:
    y = run("proj", x)
    return run("norm", permute(flatten_spatial(y), (0, 2, 1)))


@RULES.add("VisionTransformer")
@rule(
    "timm VisionTransformer.forward_features + forward_head (class token, pos_embed)",
    "patch_embed pos_drop patch_drop norm_pre blocks norm fc_norm head_drop head",
    hidden=True,
)
def timm_vision_transformer(b: Module, x: Flow, run: Run) -> Flow:
    return _vit(b, x, run, prefix_tokens=("cls_token",))


@RULES.add("VisionTransformerDistilled")
@rule(
    "timm deit.VisionTransformerDistilled.forward (class and distillation tokens)",
    "patch_embed pos_drop patch_drop norm_pre blocks norm fc_norm head_drop head head_dist",
    hidden=True,
)
def timm_deit_distilled(b: Module, x: Flow, run: Run) -> Flow:
    return _vit(b, x, run, prefix_tokens=("cls_token", "dist_token"))


def _vit(b: Module, x: Flow, run: Run, prefix_tokens: tuple[str, ...]) -> Flow:
    fc_norm = b.child("fc_norm")
    token_pool = fc_norm is None or fc_norm.kind == "Identity"
    if not token_pool and len(prefix_tokens) == 1:
        prefix_tokens = ()  # global_pool='avg' models are built without a class token
        run.note("average pooling (fc_norm is a norm): assumed built without a class token")
    tokens = run("patch_embed", x)
    n, patches, width = tokens.shape
    for name in prefix_tokens:
        run.param(name, (1, 1, width))
    tokens = tokens.reshaped((n, patches + len(prefix_tokens), width))
    run.param("pos_embed", (1, *tokens.shape[1:]))
    run.note(
        "pos_embed assumed to cover the prefix tokens too (timm's default, no_embed_class="
        f"False); models built with no_embed_class=True (deit3) have {width} x prefix "
        "tokens fewer parameters"
    )
    tokens = run("pos_drop", tokens)
    tokens = run("norm", run("blocks", run("norm_pre", run("patch_drop", tokens))))
    pooled = tokens.reshaped((n, width))  # x[:, 0] (token pooling) or the mean over tokens
    if run.has("head_dist"):  # (head(x[:, 0]) + head_dist(x[:, 1])) / 2
        cls, dist = run("head_drop", pooled), run("head_drop", pooled)
        out = run("head", cls)
        run("head_dist", dist)
        return out
    return run("head", run("head_drop", run("fc_norm", pooled)))


@RULES.add("Block")
@rule(
    "timm vision_transformer.Block.forward",
    "norm1 attn ls1 drop_path1 norm2 mlp ls2 drop_path2",
)
def vit_block(b: Module, x: Flow, run: Run) -> Flow:
    y = add(x, run("drop_path1", run("ls1", run("attn", run("norm1", x)))))
    return add(y, run("drop_path2", run("ls2", run("mlp", run("norm2", y)))))


@RULES.add("Attention")
@rule(
    "timm Attention.forward (qkv -> scaled_dot_product_attention -> proj)",
    "qkv q_norm k_norm attn_drop norm proj proj_drop",
)
def timm_attention(b: Module, x: Flow, run: Run) -> Flow:
    run("qkv", x)
    return run("proj_drop", run("proj", run("norm", x)))


@RULES.add("LayerScale")
@rule("timm LayerScale.forward (x * gamma, gamma of the last dimension)", "", hidden=True)
def layer_scale(b: Module, x: Flow, run: Run) -> Flow:
    run.param("gamma", (x.shape[-1],))
    return x


@RULES.add("MlpMixer")
@rule(
    "timm MlpMixer.forward_features + forward_head (mean over tokens)",
    "stem blocks norm head_drop head",
)
def mlp_mixer(b: Module, x: Flow, run: Run) -> Flow:
    tokens = run("norm", run("blocks", run("stem", x)))
    return run("head", run("head_drop", reduce(tokens, [1])))


@RULES.add("MixerBlock")
@rule(
    "timm MixerBlock.forward (token mixing on the transposed tokens)",
    "norm1 mlp_tokens drop_path norm2 mlp_channels",
)
def mixer_block(b: Module, x: Flow, run: Run) -> Flow:
    mixed = run("mlp_tokens", permute(run("norm1", x), (0, 2, 1)))
    y = add(x, run("drop_path", permute(mixed, (0, 2, 1))))
    return add(y, run("drop_path", run("mlp_channels", run("norm2", y))))


TIMM_SWIN_WINDOW = 7  # *_window7_* models; the repr does not print the window size


@RULES.add("SwinTransformer")
@rule(
    "timm swin_transformer.SwinTransformer.forward (NHWC throughout, pooled over H, W)",
    "patch_embed layers norm head",
)
def timm_swin(b: Module, x: Flow, run: Run) -> Flow:
    x = run("norm", run("layers", _patches_channels_last(run, x)))

    def head(child: Module, y: Flow) -> Flow | None:
        if child.name == "global_pool":  # NHWC pooling flattens inside the pool
            return run.known(child, y.reshaped((y.shape[0], y.shape[-1])))
        return None

    return run.each("head", x, head)[-1]


@RULES.add("SwinTransformerBlock")
@rule(
    "timm swin_transformer.SwinTransformerBlock.forward (window attention on padded windows)",
    "norm1 attn drop_path1 norm2 mlp drop_path2",
    hidden=True,
)
def timm_swin_block(b: Module, x: Flow, run: Run) -> Flow:
    n, h, w, c = x.shape
    window = min(TIMM_SWIN_WINDOW, h, w)
    per_image = (-(-h // window)) * (-(-w // window))
    windows = n * per_image
    shifted = b.name.isdigit() and int(b.name) % 2 == 1 and min(h, w) > window
    if shifted:  # odd blocks shift by window // 2 and keep a mask buffer (non-persistent)
        run.buffer("attn_mask", (per_image, window * window, window * window))
    attended = run("attn", run("norm1", x).reshaped((windows, window * window, c)))
    y = add(x, run("drop_path1", attended.reshaped(x.shape)))
    tokens = y.reshaped((n, h * w, c))
    tokens = add(tokens, run("drop_path2", run("mlp", run("norm2", tokens))))
    return tokens.reshaped(x.shape)


@RULES.add("WindowAttention")
@rule(
    "timm swin_transformer.WindowAttention.forward (relative position bias table)",
    "qkv attn_drop proj proj_drop softmax",
    hidden=True,
)
def timm_window_attention(b: Module, x: Flow, run: Run) -> Flow:
    area, channels = x.shape[1], x.shape[2]
    side = 1
    while side * side < area:
        side += 1
    run.param("relative_position_bias_table", ((2 * side - 1) ** 2, max(1, channels // 32)))
    run.buffer("relative_position_index", (area, area))
    run.note(f"window {side}x{side} and {channels // 32} heads (32 channels each) assumed")
    run("qkv", x)
    return run("proj_drop", run("proj", x))


@RULES.add("PatchMerging")
@rule(
    "timm swin_transformer.PatchMerging.forward (2x2 neighbours -> 4C -> norm -> reduction)",
    "norm reduction",
)
def timm_patch_merging(b: Module, x: Flow, run: Run) -> Flow:
    n, h, w, c = x.shape
    return run("reduction", run("norm", x.reshaped((n, -(-h // 2), -(-w // 2), 4 * c))))


# ------------------------------------------------------------------- NFNet ---

_register_in_order(
    "NormFreeNet",
    "timm nfnet.NormFreeNet.forward_features + forward_head",
    "stem stages final_conv final_act head",
)


@RULES.add("DownsampleAvg")
@rule("timm nfnet.DownsampleAvg.forward (AvgPool2d(2, stride, ceil_mode=True))", "pool conv")
def nf_downsample_avg(b: Module, x: Flow, run: Run) -> Flow:
    avg_pool_built(run, b, "pool", ceil_mode=True, count_include_pad=False)
    return run("conv", run("pool", x))


@RULES.add("ScaledStdConv2d", "ScaledStdConv2dSame")
@rule("timm std_conv.ScaledStdConv2d (a Conv2d with a gain of [out, 1, 1, 1])", "", hidden=True)
def scaled_std_conv(b: Module, x: Flow, run: Run) -> Flow:
    y = run.itself(x)
    run.param("gain", (y.shape[1], 1, 1, 1))
    return y


@RULES.add("NormFreeBlock")
@rule(
    "timm nfnet.NormFreeBlock.forward (pre-activation; shortcut from the activated input)",
    "act1 conv1 act2 conv2 act3 conv3 drop_path",
    "downsample conv2b act2b attn attn_last",
)
def norm_free_block(b: Module, x: Flow, run: Run) -> Flow:
    out = run("act1", x)
    shortcut = run("downsample", out) if run.has("downsample") else x
    out = run("conv2", run("act2", run("conv1", out)))
    if run.has("conv2b"):
        out = run("conv2b", run("act2b", out))
    if run.has("attn"):
        out = run("attn", out)
    out = run("conv3", run("act3", out))
    if run.has("attn_last"):
        out = run("attn_last", out)
    return add(run("drop_path", out), shortcut)
