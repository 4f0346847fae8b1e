"""Judging decoded captions: greedy and beam-search decoding of a split, the exact-match rate (the
decoded caption equals one of the image's reference captions), BLEU-1…4 against all references,
and — for the attention captioner on the synthetic scenes — how often the attention peak at a shape
noun lies on that shape."""

from __future__ import annotations

import math

import numpy as np

from cs231n_jax.captioning.bleu import corpus_bleu
from cs231n_jax.captioning.data import CaptionData, CaptionSplit
from cs231n_jax.captioning.decoding import make_beam_search, make_greedy_decoder
from cs231n_jax.data import scenes as S


def decode_split(decode, variables, split: CaptionSplit, batch_size: int) -> tuple[np.ndarray, np.ndarray | None]:
  """Decoded word ids (N_images, T) for every image, in fixed-size batches (the last one padded)."""
  outs, extras = [], []
  n = split.num_images
  for start in range(0, n, batch_size):
    chunk = split.inputs[start:start + batch_size]
    pad = batch_size - len(chunk)
    if pad:
      chunk = np.concatenate([chunk, np.repeat(chunk[-1:], pad, axis=0)])
    words, extra = decode(variables, chunk)
    outs.append(np.asarray(words)[:batch_size - pad])
    extras.append(np.asarray(extra)[:batch_size - pad])
  return np.concatenate(outs), np.concatenate(extras)


def caption_metrics(hypotheses: list[str], references: list[list[list[str]]]) -> dict[str, float]:
  """Exact-match rate and BLEU-1…4 of decoded captions against every image's references."""
  hyp_words = [h.split() for h in hypotheses]
  exact = [h in refs for h, refs in zip(hyp_words, references)]
  bleu = corpus_bleu(hyp_words, references)
  return {"exact_match": float(np.mean(exact)), **{f"bleu{n}": bleu[f"bleu{n}"] for n in range(1, 5)}}


def attention_hit_rate(captions: list[str], attention: np.ndarray, scenes: list[S.Scene], image_size: int) -> dict[str, float]:
  """For every shape noun the model wrote that names an object of the scene: is the attention peak
  (of the step that produced the noun) inside that object's box? Also the chance rate (the mean
  fraction of the image a box covers)."""
  grid = int(round(math.sqrt(attention.shape[-1])))
  cell = image_size / grid
  hits, total, area = 0, 0, []
  for caption, att, scene in zip(captions, attention, scenes):
    words = caption.split()
    for t, w in enumerate(words):
      if w not in S.SHAPES or t == 0:
        continue
      matches = [o for o in scene.objects if o.shape == w and o.color == words[t - 1]]
      if len(matches) != 1:
        continue
      obj = matches[0]
      peak = int(np.argmax(att[t]))
      cy, cx = (peak // grid + 0.5) * cell, (peak % grid + 0.5) * cell
      x0, y0, x1, y1 = obj.box
      hits += int(x0 <= cx <= x1 and y0 <= cy <= y1)
      total += 1
      area.append(min(x1 - x0, image_size) * min(y1 - y0, image_size) / image_size ** 2)
  return {"attention_hit_rate": hits / total if total else float("nan"), "attention_nouns": total,
          "attention_chance": float(np.mean(area)) if area else float("nan")}


def make_decoders(model, decode_length: int, beam_size: int, length_penalty: float = 0.0):
  """The jitted greedy decoder and (for beam_size > 1) beam search, built once and reused for
  every split (one compilation each)."""
  greedy = make_greedy_decoder(model, decode_length)
  beam = make_beam_search(model, decode_length, beam_size, length_penalty) if beam_size > 1 else None
  return greedy, beam


def evaluate_captions(model, variables, data: CaptionData, split_name: str, decode_length: int, beam_size: int,
             batch_size: int, length_penalty: float = 0.0, decoders=None):
  """(metrics, greedy captions, attention) of ``split_name``: exact match and BLEU-1…4 for greedy
  decoding and beam search, the attention check on scenes, and a few examples."""
  split = data.split(split_name)
  greedy, beam = decoders or make_decoders(model, decode_length, beam_size, length_penalty)
  words, attention = decode_split(greedy, variables, split, batch_size)
  captions = data.vocab.decode_batch(words)
  out = {f"greedy_{k}": v for k, v in caption_metrics(captions, split.references).items()}
  if beam is not None:
    beam_words, _ = decode_split(beam, variables, split, batch_size)
    out.update({f"beam{beam_size}_{k}": v for k, v in caption_metrics(data.vocab.decode_batch(beam_words), split.references).items()})
  if split.scenes is not None and np.any(attention):
    out.update(attention_hit_rate(captions, attention, split.scenes, split.inputs.shape[1]))
  out["examples"] = [{"generated": c, "references": [" ".join(r) for r in refs]}
                     for c, refs in list(zip(captions, split.references))[:8]]
  return out, captions, attention


def image_influence(model, variables, inputs, captions_in) -> np.ndarray:
  """How much the image still moves the word scores at each step of teacher-forced decoding:
  ``‖∂ scores_t / ∂ inputs‖_F / ‖∂ scores_0 / ∂ inputs‖_F`` for t = 0 … T-1 (summed over the batch,
  whose captions depend only on their own image). A captioner that reads the image once (h0) must
  carry it through its recurrence; this measures how much arrives at the word that needs it."""
  import jax
  import jax.numpy as jnp

  inputs = jnp.asarray(inputs, jnp.float32)
  jac = jax.jit(jax.jacrev(lambda x: model.apply(variables, x, captions_in)[0].sum(0)))(inputs)  # (T, V, *inputs)
  norms = np.sqrt(np.asarray(jnp.sum(jac.reshape(jac.shape[0], -1) ** 2, axis=1)))
  return norms / norms[0]
