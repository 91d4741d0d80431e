"""SMGA network: stream masking, null embeddings for guidance, shapes and published sizes."""

from __future__ import annotations

import pytest
import torch

from mmgt import keypoints as K
from mmgt.stage1.config import load_config
from mmgt.stage1.smga import SMGA, Attention, SMGAConfig, split_streams

from .helpers import TINY, inputs, make

def joints(v: torch.Tensor) -> torch.Tensor:
    return v.unflatten(-1, (K.NUM_JOINTS, 3))


def test_split_streams_partitions_face_and_body():
    x = torch.randn(3, 402)
    face, body = split_streams(x)
    fj, bj, xj = joints(face), joints(body), joints(x)
    not_face = list(K.NOT_FACE)
    assert torch.equal(fj[:, list(K.FACE)], xj[:, list(K.FACE)]) and not fj[:, not_face].any()
    assert torch.equal(bj[:, not_face], xj[:, not_face]) and not bj[:, list(K.FACE)].any()
    assert torch.equal(face + body, x)


def test_face_stream_sees_only_face_joints():
    model = make()
    captured = {}
    hooks = [proj.register_forward_hook(lambda m, a, o, i=i: captured.__setitem__(i, a[0].clone()))
             for i, proj in enumerate(model.input_proj)]
    x, t, ref, audio = inputs()
    model(x, t, ref, audio)
    face_in, body_in = captured[0], captured[1]
    # perturb every non-face joint of the noisy pose and the reference: the face stream input is unchanged
    x2, ref2 = x.clone(), ref.clone()
    joints(x2)[..., list(K.NOT_FACE), :] += 5.0
    joints(ref2)[..., list(K.NOT_FACE), :] -= 3.0
    model(x2, t, ref2, audio)
    assert torch.equal(captured[0], face_in)
    assert not torch.equal(captured[1], body_in)
    # the face stream input is exactly [face(x), face(ref)] with every other value zero
    fx = joints(face_in[..., :402])
    assert not fx[..., list(K.NOT_FACE), :].any()
    assert torch.equal(fx[..., list(K.FACE), :], joints(x)[..., list(K.FACE), :])
    # and the body stream never sees a face value
    x3 = x.clone()
    joints(x3)[..., list(K.FACE), :] += 5.0
    model(x3, t, ref, audio)
    assert torch.equal(captured[1], body_in)
    for h in hooks:
        h.remove()


def test_single_stream_sees_whole_pose():
    model = make(SMGAConfig(**{**TINY.__dict__, "dual_stream": False}))
    assert len(model.input_proj) == 1 and all(len(layer.streams) == 1 for layer in model.layers)
    x, _, ref, _ = inputs()
    (pose,) = model.stream_inputs(x, ref)
    assert torch.equal(pose[..., :402], x) and torch.equal(pose[:, 5, 402:], ref)


def test_null_embedding_used_exactly_when_condition_dropped():
    model = make()
    x, t, ref, audio = inputs(b=4)
    keep = torch.tensor([True, False, True, False])
    base = model(x, t, ref, audio, keep)
    # dropped rows ignore the audio entirely; kept rows depend on it
    other = model(x, t, ref, torch.randn_like(audio), keep)
    assert torch.allclose(base[~keep], other[~keep], atol=1e-6)
    assert not torch.allclose(base[keep], other[keep], atol=1e-3)
    # changing the null embeddings changes exactly the dropped rows
    with torch.no_grad():
        model.null_tokens.add_(1.0)
        model.null_pooled.add_(1.0)
    changed = model(x, t, ref, audio, keep)
    assert torch.allclose(base[keep], changed[keep], atol=1e-6)
    assert not torch.allclose(base[~keep], changed[~keep], atol=1e-3)
    # a dropped row equals the same row run alone with keep=False (rows do not interact)
    alone = model(x[1:2], t[1:2], ref[1:2], audio[1:2], torch.tensor([False]))
    assert torch.allclose(alone, changed[1:2], atol=1e-5)


def test_default_keeps_condition():
    model = make()
    x, t, ref, audio = inputs()
    assert torch.equal(model(x, t, ref, audio), model(x, t, ref, audio, torch.ones(2, dtype=torch.bool)))


def test_precomputed_audio_tokens_match_raw_audio():
    model = make()
    x, t, ref, audio = inputs()
    tokens = model.encode_audio(audio)
    assert torch.allclose(model(x, t, ref, audio), model(x, t, ref, audio_tokens=tokens), atol=1e-6)


def test_one_audio_condition_serves_every_step():
    model = make()
    x, t, ref, audio = inputs()
    keep = torch.tensor([True, False])
    condition = model.condition(audio, keep)
    for step in (t, t.flip(0), torch.full_like(t, 999)):
        assert torch.allclose(model(x, step, ref, condition=condition), model(x, step, ref, audio, keep), atol=1e-6)


def test_cached_prefix_keys_equal_attention_over_the_whole_context():
    torch.manual_seed(0)
    attn = Attention(32, heads=4, dropout=0.0).eval()
    x, context = torch.randn(2, 10, 32), torch.randn(2, 12, 32)
    whole = attn(x, context)
    cached = attn(x, context[:, 9:], prefix=attn.keys_values(context[:, :9]))
    assert torch.allclose(whole, cached, atol=1e-6)
    assert not torch.allclose(whole, attn(x, context[:, 9:], prefix=attn.keys_values(context[:, :9], offset=3)), atol=1e-3)


def test_audio_standardisation_is_applied():
    model = make()
    x, t, ref, audio = inputs()
    mean, std = torch.randn(35), torch.rand(35) + 0.5
    expected = model(x, t, ref, (audio - mean) / std)
    model.set_audio_stats(mean, std)
    assert torch.allclose(model(x, t, ref, audio), expected, atol=1e-6)


def paper_parameter_count(dual: bool) -> int:
    """Hand count of the published architecture (d 512, FF 1024, 8 layers, 1059-d audio)."""
    d, ff, audio, pose, h = 512, 1024, 1059, 402, 80
    lin = lambda i, o: i * o + o  # noqa: E731
    attn = lin(d, d) + lin(d, 2 * d) + lin(d, d)
    ln = 2 * d
    film = lin(d, 2 * d)
    ffn = lin(d, ff) + lin(ff, d)
    encoder = 2 * (2 * ln + attn + ffn)
    streams = 2 if dual else 1
    block = 2 * ln + 2 * attn + 2 * film
    layer = streams * block + ln + ffn + film
    return (streams * lin(2 * pose, d) + lin(audio, d) + encoder + h * d + d
            + (ln + 2 * lin(d, d)) + lin(d, 4 * d) + lin(4 * d, d) + lin(4 * d, 2 * d) + ln
            + 8 * layer + lin(d, pose))


@pytest.mark.parametrize("preset,dual", [("paper", True), ("edge-paper", False)])
def test_paper_preset_sizes_and_forward(preset, dual):
    cfg = load_config(preset)
    assert (cfg.model.dim, cfg.model.ff_dim, cfg.model.layers, cfg.model.heads, cfg.model.audio_dim) == (512, 1024, 8, 8, 1059)
    model = SMGA(cfg.model).eval()
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)  # rotary freqs are frozen
    assert n_params == paper_parameter_count(dual)
    with torch.no_grad():
        out = model(torch.randn(1, 80, 402), torch.tensor([10]), torch.randn(1, 402), torch.randn(1, 80, 1059))
    assert out.shape == (1, 80, 402) and torch.isfinite(out).all()


@pytest.mark.parametrize("preset", ["paper", "edge-paper"])
def test_residual_stream_grows_additively_over_depth(preset):
    """Random init, paper sizes: the hidden state's std after each layer stays near the first layer's.

    Summing two ``x + delta`` streams doubled it per layer (x140 after 8 layers); adding each
    stream's update once grows it like a single-stream pre-norm transformer (about x2 after 8).
    """
    model = make(load_config(preset).model)
    stds: list[float] = []
    hooks = [layer.register_forward_hook(lambda m, a, out: stds.append(float(out.std()))) for layer in model.layers]
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        model(torch.randn(1, 80, 402, generator=g), torch.tensor([500]), torch.randn(1, 402, generator=g),
              torch.randn(1, 80, 1059, generator=g))
    for h in hooks:
        h.remove()
    ratios = torch.tensor(stds) / stds[0]
    assert len(stds) == 8 and ratios.max() < 3.0
    assert (ratios[1:] / ratios[:-1]).max() < 1.5  # no layer multiplies the residual stream


def test_dual_stream_layer_adds_each_stream_update_once():
    """With every stream update and the merge zeroed, a layer is the identity on the residual stream."""
    model = make()
    layer = model.layers[1]
    with torch.no_grad():
        for film in [*(f for b in layer.streams for f in (b.film_self, b.film_cross)), layer.film_merge]:
            linear = film.to_scale_shift[1]
            linear.weight.zero_()
            linear.bias.zero_()
            linear.bias[: model.cfg.dim] = -1.0  # (scale + 1) * x + shift = 0
    x, t, ref, audio = inputs()
    captured = {}
    hooks = [model.layers[i].register_forward_hook(lambda m, a, out, i=i: captured.__setitem__(i, out)) for i in (0, 1)]
    model(x, t, ref, audio)
    for h in hooks:
        h.remove()
    assert torch.allclose(captured[1], captured[0], atol=1e-6)
