"""Sequence layers: recurrent layers, multi-head attention and the Transformer blocks.

MACs convention (weights only, as for Conv and Linear): a recurrent layer costs, per
layer and direction, ``B*T*G*H*(I + H_r)`` with G = 4 (LSTM), 3 (GRU), 1 (RNN), I the
layer's input size and H_r = proj_size or hidden_size, plus ``B*T*H*proj_size`` for an
LSTM projection; MultiheadAttention costs its four projections, ``B*Lq*E*E`` (q),
``B*Lk*kdim*E`` (k), ``B*Lv*vdim*E`` (v) and ``B*Lq*E*E`` (out); the attention products
q·k and attn·v multiply activations by activations and count 0.
"""

from __future__ import annotations

import math

from cnncli.core.errors import UserError
from cnncli.core.forward.base import Flow, Registry, Run, add, rule, shape_text
from cnncli.core.layers import Layer
from cnncli.core.model_text import Module

RULES = Registry()
_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def recurrent(layer: Layer, x: Flow) -> tuple[Flow, int]:
    """nn.RNN / LSTM / GRU: (L, N, H_in) or batch_first (N, L, H_in) -> (..., D * H_out)."""
    input_size = layer.integer("input_size")
    hidden = layer.integer("hidden_size")
    layers = layer.integer("num_layers")
    directions = 2 if layer.flag("bidirectional") else 1
    projection = layer.integer("proj_size", 0) if "proj_size" in layer.args else 0
    if projection >= hidden:
        raise UserError(f"proj_size ({projection}) must be smaller than hidden_size ({hidden})")
    if x.rank not in (2, 3) or x.shape[-1] != input_size:
        raise UserError(
            f"expects (L, N, {input_size}) or (N, L, {input_size}) (batch_first), "
            f"but {shape_text(x.shape)} arrives"
        )
    steps_times_batch = math.prod(x.shape[:-1])
    out = projection or hidden
    gates = _GATES[layer.kind]
    macs = 0
    for index in range(layers):
        width = input_size if index == 0 else out * directions
        per_direction = gates * hidden * (width + out) + hidden * projection
        macs += steps_times_batch * per_direction * directions
    return Flow((*x.shape[:-1], directions * out)), macs


@RULES.add("MultiheadAttention")
@rule(
    "torch.nn.MultiheadAttention.forward (self-attention: query = key = value)",
    "out_proj",
    hidden=True,
)
def multihead_attention(b: Module, x: Flow, run: Run) -> Flow:
    out_proj = run.child("out_proj").layer
    if out_proj is None or out_proj.kind != "Linear":
        raise UserError(f"{b.label}: out_proj must be a Linear")
    embed = out_proj.integer("in_features")
    if x.shape[-1] != embed:
        raise UserError(f"{b.label}: expects {embed} features, but {shape_text(x.shape)} arrives")
    run.param("in_proj_weight", (3 * embed, embed))
    if out_proj.flag("bias"):
        run.param("in_proj_bias", (3 * embed,))
    run.note(
        "the repr does not print kdim, vdim or add_bias_kv: assumed kdim = vdim = embed_dim "
        "and no bias_k/bias_v (the defaults)"
    )
    tokens = math.prod(x.shape[:-1])
    return run.row(x, 4 * tokens * embed * embed)


@RULES.add("TransformerEncoderLayer")
@rule(
    "torch.nn.TransformerEncoderLayer.forward",
    "self_attn linear1 dropout linear2 norm1 norm2 dropout1 dropout2",
    "activation",
)
def encoder_layer(b: Module, x: Flow, run: Run) -> Flow:
    y = run("norm1", add(x, run("dropout1", run("self_attn", x))))
    return run("norm2", add(y, _feed_forward(y, run)))


def _feed_forward(x: Flow, run: Run) -> Flow:
    y = run("linear1", x)
    if run.has("activation"):
        y = run("activation", y)
    return run("dropout2", run("linear2", run("dropout", y)))


@RULES.add("TransformerDecoderLayer")
@rule(
    "torch.nn.TransformerDecoderLayer.forward (memory assumed shaped like the target)",
    "self_attn multihead_attn linear1 dropout linear2 norm1 norm2 norm3 dropout1 dropout2 dropout3",
    "activation",
)
def decoder_layer(b: Module, x: Flow, run: Run) -> Flow:
    run.note("the encoder memory is assumed to have the target's shape")
    y = run("norm1", add(x, run("dropout1", run("self_attn", x))))
    y = run("norm2", add(y, run("dropout2", run("multihead_attn", y))))
    y3 = run("linear1", y)
    if run.has("activation"):
        y3 = run("activation", y3)
    return run("norm3", add(y, run("dropout3", run("linear2", run("dropout", y3)))))


@RULES.add("TransformerEncoder", "TransformerDecoder")
@rule("torch.nn.TransformerEncoder.forward / TransformerDecoder.forward", "layers", "norm")
def transformer_stack(b: Module, x: Flow, run: Run) -> Flow:
    x = run("layers", x)
    return run("norm", x) if run.has("norm") else x
