"""Judging decoded captions: greedy and beam-search decoding of a split, the exact-match rate (the
decoded caption equals one of the image's reference captions), BLEU-1…4 against all references,
and — for the attention captioner on the synthetic scenes — how often the attention peak at a shape
noun lies on that shape."""

from __future__ import annotations

import math
from typing import Sequence

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


def cell_coverage(mask: np.ndarray, grid: int) -> np.ndarray:
  """(grid * grid,) the fraction of each feature-map cell's pixels that ``mask`` (size, size) covers.

  The encoder's feature map is the image pooled by ``size / grid`` in each direction, so cell (i, j)
  (flattened ``i * grid + j``, the order of the attention weights) sits on the pixel block rows
  ``[i s, (i + 1) s)``, columns ``[j s, (j + 1) s)``, s = size / grid. (Its receptive field is larger:
  see :func:`receptive_field`.)"""
  size = mask.shape[0]
  if mask.shape != (size, size) or size % grid:
    raise ValueError(f"cell_coverage: expected a square mask whose side is a multiple of grid={grid}, got shape {mask.shape}")
  s = size // grid
  return mask.reshape(grid, s, grid, s).mean(axis=(1, 3)).reshape(-1)


def box_cells(box: tuple[float, float, float, float], size: int, grid: int) -> np.ndarray:
  """(grid * grid,) booleans: the cells whose pixel block overlaps the box ``(x0, y0, x1, y1)``
  (pixel-edge coordinates, as :class:`~cs231n_jax.data.scenes.SceneObject` gives it)."""
  s = size / grid
  lo = np.arange(grid) * s
  x0, y0, x1, y1 = box
  cols = (x0 < lo + s) & (x1 > lo)
  rows = (y0 < lo + s) & (y1 > lo)
  return (rows[:, None] & cols[None, :]).reshape(-1)


def attention_on_objects(captions: list[str], attention: np.ndarray, scenes: list[S.Scene], image_size: int,
                         step_offset: int = 0) -> dict[str, float]:
  """Where the attention of the step that wrote a shape noun goes, for every noun the model wrote
  that names exactly one object of the scene (colour and shape). ``step_offset = -1`` looks at the
  step before instead (the one that wrote the colour).

  * ``attention_hit_rate``: the peak cell's centre lies inside the object's box (chance
    ``attention_chance``: the mean box area over the image's).
  * ``attention_box_overlap_rate``: the peak cell overlaps the object's box — the curriculum's
    wording, "the argmax-attention cell overlaps that shape's box" (chance
    ``attention_box_overlap_chance``: the mean fraction of cells that overlap the box).
  * ``attention_mask_overlap_rate``: the peak cell holds a pixel of the object's exact mask
    (chance ``attention_mask_cells_chance``: the mean fraction of such cells).
  * ``attention_mask_mass``: the attention's total weight on the cells that hold a pixel of the
    object (uniform attention would put ``attention_mask_cells_chance`` there).
  * ``attention_peak_distance``: the mean Chebyshev distance, in cells, from the peak to the nearest
    cell holding a pixel of the object (0 on it, 1 next to it); ``attention_peak_on_other``: how often
    the peak holds a pixel of the scene's other object instead.
  """
  grid = int(round(math.sqrt(attention.shape[-1])))
  if grid * grid != attention.shape[-1] or image_size % grid:
    raise ValueError(f"attention_on_objects: {attention.shape[-1]} locations are not a square grid dividing {image_size} pixels")
  cell = image_size / grid
  rows, cols = np.divmod(np.arange(grid * grid), grid)
  hit, box_hit, mask_hit, mass, dist, other, area, box_chance, mask_chance = ([] for _ in range(9))
  for caption, att, scene in zip(captions, attention, scenes):
    words = caption.split()
    for t, w in enumerate(words):
      if w not in S.SHAPES or t == 0 or t + step_offset < 0:
        continue
      matches = [o for o in scene.objects if o.shape == w and o.color == words[t - 1]]
      if len(matches) != 1:
        continue
      obj = matches[0]
      p = att[t + step_offset]
      peak = int(np.argmax(p))
      cy, cx = (peak // grid + 0.5) * cell, (peak % grid + 0.5) * cell
      x0, y0, x1, y1 = obj.box
      hit.append(x0 <= cx <= x1 and y0 <= cy <= y1)
      area.append(min(x1 - x0, image_size) * min(y1 - y0, image_size) / image_size ** 2)
      in_box = box_cells(obj.box, image_size, grid)
      box_hit.append(bool(in_box[peak]))
      box_chance.append(float(in_box.mean()))
      on = cell_coverage(S.shape_mask(obj, image_size), grid) > 0
      mask_hit.append(bool(on[peak]))
      mask_chance.append(float(on.mean()))
      mass.append(float(np.sum(p[on])))
      dist.append(int(np.min(np.maximum(np.abs(rows[on] - rows[peak]), np.abs(cols[on] - cols[peak])))))
      others = [o for o in scene.objects if o is not obj]
      other.append(any(cell_coverage(S.shape_mask(o, image_size), grid)[peak] > 0 for o in others))
  mean = lambda xs: float(np.mean(xs)) if xs else float("nan")
  return {"attention_hit_rate": mean(hit), "attention_nouns": len(hit), "attention_chance": mean(area),
          "attention_box_overlap_rate": mean(box_hit), "attention_box_overlap_chance": mean(box_chance),
          "attention_mask_overlap_rate": mean(mask_hit), "attention_mask_cells_chance": mean(mask_chance),
          "attention_mask_mass": mean(mass), "attention_peak_distance": mean(dist), "attention_peak_on_other": mean(other)}



def scene_kind(scene: S.Scene) -> str:
  """``"single"``, ``"pair_two_colours"`` or ``"pair_one_colour"`` (two objects of the same colour)."""
  if len(scene.objects) == 1:
    return "single"
  return "pair_one_colour" if len(scene.objects) == 2 and scene.objects[0].color == scene.objects[1].color else "pair_two_colours"


def caption_errors(captions: list[str], references: list[list[list[str]]], scenes: list[S.Scene]) -> dict[str, dict]:
  """Where decoded captions go wrong: per scene kind (:func:`scene_kind`) the number of scenes and of
  captions that match none of their references, and for the wrong ones the word positions (from 0)
  where the caption differs from its closest reference (most words equal in place, then nearest length)."""
  scenes_by_kind, errors_by_kind, positions = {}, {}, {}
  for caption, refs, scene in zip(captions, references, scenes, strict=True):
    kind = scene_kind(scene)
    scenes_by_kind[kind] = scenes_by_kind.get(kind, 0) + 1
    words = caption.split()
    if words in refs:
      continue
    errors_by_kind[kind] = errors_by_kind.get(kind, 0) + 1
    closest = max(refs, key=lambda r: (sum(a == b for a, b in zip(words, r)), -abs(len(words) - len(r))))
    for i in range(max(len(words), len(closest))):
      if i >= len(words) or i >= len(closest) or words[i] != closest[i]:
        positions[i] = positions.get(i, 0) + 1
  return {"scenes": scenes_by_kind, "errors": errors_by_kind, "positions": dict(sorted(positions.items()))}


def receptive_field(model, variables, image_size: int, cells: Sequence[int] | None = None, channels: int = 3) -> list[tuple[int, int]]:
  """(height, width) in pixels of the input that each spatial feature vector of ``cells`` depends on
  (its receptive field; default the one cell nearest the image's centre, which the zero-padded border
  does not cut): the pixels where the gradient of a random projection of the cell's features is
  non-zero for either of two random images."""
  import jax

  images = jax.random.uniform(jax.random.key(0), (2, image_size, image_size, channels))
  encode = lambda x: model.apply(variables, x, method=type(model).encode)["spatial"]
  spatial = jax.eval_shape(encode, images)
  grid = int(round(math.sqrt(spatial.shape[1])))
  grad = jax.jit(lambda x, ct: jax.vjp(encode, x)[1](ct)[0])
  direction = np.asarray(jax.random.normal(jax.random.key(1), spatial.shape[-1:]))
  sides = []
  for cell in ((grid // 2) * grid + grid // 2,) if cells is None else cells:
    cotangent = np.zeros(spatial.shape, spatial.dtype)
    cotangent[:, cell] = direction
    touched = np.any(np.asarray(grad(images, cotangent)) != 0, axis=(0, 3))
    ys, xs = np.nonzero(touched)
    sides.append((int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1)))
  return sides


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
    out.update(attention_on_objects(captions, attention, split.scenes, split.inputs.shape[1]))
    colour = attention_on_objects(captions, attention, split.scenes, split.inputs.shape[1], step_offset=-1)
    out.update({f"colour_step_{k}": v for k, v in colour.items() if k.startswith("attention_") and "chance" not in k})
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
