"""NotaGen's network in plain torch: a patch-level GPT-2 over one-hot patches and a
character-level GPT-2 whose first position is the patch's hidden state.

Parameter names and shapes are those of NotaGen's checkpoints (transformers' ``GPT2Model``
as ``patch_level_decoder.base`` and ``GPT2LMHeadModel`` as ``char_level_decoder.base``),
so its released ``.pth`` files load unchanged. The blocks are written out here rather
than taken from transformers so that both levels run with explicit key/value caches
that can be cut back (a resampled bar) without depending on transformers' cache API.
GPT-2 defaults: gelu (tanh form), layer norm eps 1e-5, float32.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mos_lab.ai.models.notagen.patchilizer import VOCAB

#: per layer, keys and values of shape (1, heads, positions, head size)
Cache = list[tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class NotaGenConfig:
    """Sizes of a NotaGen network (all read from a checkpoint's shapes by ``load``)."""

    hidden: int = 1280
    patch_layers: int = 20
    char_layers: int = 6
    patch_size: int = 16
    patch_length: int = 1024
    patch_inner: int | None = None
    char_inner: int | None = None

    @property
    def heads(self) -> int:
        """Attention heads: hidden // 64, as NotaGen's configurations have it."""
        return max(1, self.hidden // 64)


class Conv1D(nn.Module):
    """GPT-2's linear layer: weight stored (in, out)."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out).normal_(std=0.02))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x: Tensor) -> Tensor:
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).reshape(
            *x.shape[:-1], -1)


class Attention(nn.Module):
    """Causal self-attention with an optional key/value cache."""

    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.c_attn = Conv1D(hidden, 3 * hidden)
        self.c_proj = Conv1D(hidden, hidden)

    def forward(self, x: Tensor, past: tuple[Tensor, Tensor] | None
                ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        if past is not None:
            k = torch.cat((past[0], k), dim=2)
            v = torch.cat((past[1], v), dim=2)
        s = k.shape[2]
        if s == t:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        elif t == 1:
            y = F.scaled_dot_product_attention(q, k, v)
        else:  # new positions after cached ones: query i sees keys up to s - t + i
            mask = torch.ones(t, s, dtype=torch.bool, device=x.device).tril(s - t)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        y = y.transpose(1, 2).reshape(b, t, c)
        return self.c_proj(y), (k, v)


class MLP(nn.Module):
    """GPT-2's feed-forward layer (gelu, tanh form)."""

    def __init__(self, hidden: int, inner: int) -> None:
        super().__init__()
        self.c_fc = Conv1D(hidden, inner)
        self.c_proj = Conv1D(inner, hidden)

    def forward(self, x: Tensor) -> Tensor:
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    """One pre-norm GPT-2 block."""

    def __init__(self, hidden: int, heads: int, inner: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(hidden, eps=1e-5)
        self.attn = Attention(hidden, heads)
        self.ln_2 = nn.LayerNorm(hidden, eps=1e-5)
        self.mlp = MLP(hidden, inner)

    def forward(self, x: Tensor, past: tuple[Tensor, Tensor] | None
                ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        a, kv = self.attn(self.ln_1(x), past)
        x = x + a
        return x + self.mlp(self.ln_2(x)), kv


class GPT2(nn.Module):
    """GPT-2's trunk (names as transformers' GPT2Model): embeddings in, hidden states out."""

    def __init__(self, vocab: int, positions: int, hidden: int, layers: int, inner: int
                 ) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab, hidden)
        self.wpe = nn.Embedding(positions, hidden)
        heads = max(1, hidden // 64)
        self.h = nn.ModuleList(Block(hidden, heads, inner) for _ in range(layers))
        self.ln_f = nn.LayerNorm(hidden, eps=1e-5)

    def forward(self, embeds: Tensor, past: Cache | None = None) -> tuple[Tensor, Cache]:
        """Hidden states of ``embeds`` (batch, new positions, hidden) after ``past``."""
        start = 0 if not past else past[0][0].shape[2]
        if start + embeds.shape[1] > self.wpe.num_embeddings:
            raise ValueError(f"notagen: {start + embeds.shape[1]} positions is more than the "
                             f"model's {self.wpe.num_embeddings}")
        pos = torch.arange(start, start + embeds.shape[1], device=embeds.device)
        x = embeds + self.wpe(pos)
        cache: Cache = []
        for i, block in enumerate(self.h):
            x, kv = block(x, past[i] if past else None)
            cache.append(kv)
        return self.ln_f(x), cache


class PatchLevelDecoder(nn.Module):
    """One-hot patches through ``Linear(patch_size*128, hidden)``, then GPT-2."""

    def __init__(self, cfg: NotaGenConfig) -> None:
        super().__init__()
        self.patch_size = cfg.patch_size
        self.patch_embedding = nn.Linear(cfg.patch_size * VOCAB, cfg.hidden)
        self.base = GPT2(1, cfg.patch_length, cfg.hidden, cfg.patch_layers,
                         cfg.patch_inner or 4 * cfg.hidden)

    def embed(self, patches: Tensor) -> Tensor:
        """(batch, n, patch_size) codes to (batch, n, hidden): the one-hot product, as a
        sum of the weight columns the codes pick."""
        w = self.patch_embedding.weight.t().reshape(self.patch_size, VOCAB, -1)
        cols = w[torch.arange(self.patch_size, device=patches.device), patches]
        return cols.sum(dim=-2) + self.patch_embedding.bias

    def forward(self, patches: Tensor, past: Cache | None = None) -> tuple[Tensor, Cache]:
        """Hidden states of new full patches after the cached ones."""
        return self.base(self.embed(patches), past)


class CharLM(nn.Module):
    """transformers' GPT2LMHeadModel layout: ``transformer`` and a tied ``lm_head``."""

    def __init__(self, cfg: NotaGenConfig) -> None:
        super().__init__()
        self.transformer = GPT2(VOCAB, cfg.patch_size + 1, cfg.hidden, cfg.char_layers,
                                cfg.char_inner or 4 * cfg.hidden)
        self.lm_head = nn.Linear(cfg.hidden, VOCAB, bias=False)
        self.lm_head.weight = self.transformer.wte.weight


class CharLevelDecoder(nn.Module):
    """The characters of one patch, from its patch-level hidden state."""

    def __init__(self, cfg: NotaGenConfig) -> None:
        super().__init__()
        self.base = CharLM(cfg)

    def forward(self, first: Tensor | None, chars: Tensor, past: Cache | None = None
                ) -> tuple[Tensor, Cache]:
        """Logits after the new positions: ``first`` (batch, hidden) is the patch's hidden
        state standing for BOS (None when cached), then the ``chars`` (batch, k) codes."""
        lm = self.base
        x = lm.transformer.wte(chars)
        if first is not None:
            x = torch.cat((first[:, None, :], x), dim=1)
        h, cache = lm.transformer(x, past)
        return lm.lm_head(h[:, -1]), cache


class NotaGenNet(nn.Module):
    """Both levels, named as NotaGen's checkpoints name them."""

    def ids(self, rows: list[Any]) -> Tensor:
        """Character codes as a long tensor on the network's device."""
        return torch.tensor(rows, dtype=torch.long, device=self.patch_level_decoder.
                            patch_embedding.weight.device)

    def __init__(self, cfg: NotaGenConfig) -> None:
        super().__init__()
        self.config = cfg
        self.patch_level_decoder = PatchLevelDecoder(cfg)
        self.char_level_decoder = CharLevelDecoder(cfg)
        for m in self.modules():  # GPT-2's initialisation, for fresh (untrained) models
            if isinstance(m, (nn.Embedding, nn.Linear)):
                nn.init.normal_(m.weight, std=0.02)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * max(cfg.patch_layers,
                                                                 cfg.char_layers)))


_GELU_A = np.float32(math.sqrt(2.0 / math.pi))
_GELU_B = np.float32(math.sqrt(2.0 / math.pi) * 0.044715)


class StepDecoder:
    """A GPT-2 trunk run one position at a time in numpy, on preallocated key/value buffers.

    The sampler's per-position path on CPU: the arithmetic of ``GPT2.forward`` with a
    cache (layer norm eps 1e-5, tanh gelu, float32), without torch's per-operation
    dispatch, module calls or cache concatenation, which at NotaGen's small sizes cost
    several times the one-position products themselves. Results agree with the torch
    path to float32 rounding (~1e-6).
    """

    def __init__(self, gpt: GPT2, capacity: int) -> None:
        def a(t: Tensor) -> np.ndarray:
            return t.detach().cpu().numpy()

        blocks = [b for b in gpt.h if isinstance(b, Block)]
        self.hidden = gpt.wte.embedding_dim
        self.heads: int = blocks[0].attn.heads
        self.size = self.hidden // self.heads
        self.scale = np.float32(1.0 / math.sqrt(self.size))
        self.mean = np.full(self.hidden, 1.0 / self.hidden, dtype=np.float32)
        self.capacity = min(capacity, gpt.wpe.num_embeddings)
        self.wpe = a(gpt.wpe.weight)
        self.wte = a(gpt.wte.weight)
        self.source = 0  # what the weights were taken from (a data pointer), for reuse
        self.ln_f = (a(gpt.ln_f.weight), a(gpt.ln_f.bias))
        self.layers = [tuple(a(t) for t in (
            b.ln_1.weight, b.ln_1.bias, b.attn.c_attn.weight, b.attn.c_attn.bias,
            b.attn.c_proj.weight, b.attn.c_proj.bias, b.ln_2.weight, b.ln_2.bias,
            b.mlp.c_fc.weight, b.mlp.c_fc.bias, b.mlp.c_proj.weight, b.mlp.c_proj.bias))
            for b in blocks]
        shape = (len(blocks), self.heads, self.capacity, self.size)
        self.keys = np.zeros(shape, dtype=np.float32)
        self.values = np.zeros(shape, dtype=np.float32)
        self.n = 0

    def load(self, cache: Cache) -> None:
        """Take over a torch cache (per layer keys and values (1, heads, n, size))."""
        n = cache[0][0].shape[2]
        if n > self.capacity:
            raise ValueError(f"notagen: {n} cached positions is more than the decoder's "
                             f"{self.capacity}")
        for i, (k, v) in enumerate(cache):
            self.keys[i, :, :n] = k[0].detach().cpu().numpy()
            self.values[i, :, :n] = v[0].detach().cpu().numpy()
        self.n = n

    def _norm(self, x: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Layer norm of one position (means as dot products: numpy's mean costs more)."""
        d = x - x.dot(self.mean)
        d *= np.float32(1.0) / np.sqrt(d.dot(d) * self.mean[0] + np.float32(1e-5))
        d *= g
        d += b
        return d

    def step(self, x: np.ndarray) -> np.ndarray:
        """The final hidden state (hidden,) of one new position with input embedding ``x``
        (hidden,), after the ``n`` positions already in the buffers."""
        n = self.n
        if n >= self.capacity:
            raise ValueError(f"notagen: {n + 1} positions is more than the decoder's "
                             f"{self.capacity}")
        c, h, d = self.hidden, self.heads, self.size
        x = x + self.wpe[n]
        for i, (g1, b1, wa, ba, wp, bp, g2, b2, wf, bf, wm, bm) in enumerate(self.layers):
            qkv = self._norm(x, g1, b1) @ wa
            qkv += ba
            keys, values = self.keys[i], self.values[i]
            keys[:, n] = qkv[c: 2 * c].reshape(h, d)
            values[:, n] = qkv[2 * c:].reshape(h, d)
            att = (keys[:, : n + 1] @ qkv[:c].reshape(h, d, 1)).reshape(h, n + 1)
            att *= self.scale
            att -= att.max(axis=1, keepdims=True)
            np.exp(att, out=att)
            att /= att.sum(axis=1, keepdims=True)
            y = (att.reshape(h, 1, n + 1) @ values[:, : n + 1]).reshape(c) @ wp
            y += bp
            x = x + y
            m = self._norm(x, g2, b2) @ wf
            m += bf
            g = m * m  # gelu, tanh form: 0.5 m (1 + tanh(sqrt(2/pi) (m + 0.044715 m^3)))
            g *= _GELU_B
            g += _GELU_A
            g *= m
            np.tanh(g, out=g)
            g += 1.0
            g *= m
            g *= 0.5
            y = g @ wm
            y += bm
            x = x + y
        self.n = n + 1
        return self._norm(x, *self.ln_f)
