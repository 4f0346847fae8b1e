"""The attention check on the synthetic scenes: cells against the exact object masks and boxes
(brute force per pixel as the reference), the peak / mass / distance measures on hand-made
attention maps, and the encoder's receptive field against the conv arithmetic."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import cs231n_jax.captioning  # noqa: F401  (registers the captioners)
from cs231n_jax.captioning.evaluation import attention_on_objects, box_cells, caption_errors, cell_coverage, receptive_field
from cs231n_jax.data import scenes as S
from cs231n_jax.models.registry import get_model

SIZE, GRID = 32, 8
A = S.SceneObject("red", "circle", 9.3, 10.7, SIZE * 0.14)
B = S.SceneObject("blue", "square", 24.6, 11.2, SIZE * 0.14)
SCENE = S.Scene((A, B), "left of")


def test_cells_against_a_per_pixel_reference():
  for obj in (A, B, S.SceneObject("green", "triangle", 16.0, 20.5, 4.48)):
    mask = S.shape_mask(obj, SIZE)
    x0, y0, x1, y1 = obj.box
    cover, boxed = np.zeros(GRID * GRID), np.zeros(GRID * GRID, bool)
    for i in range(GRID):
      for j in range(GRID):
        block = mask[4 * i:4 * i + 4, 4 * j:4 * j + 4]
        cover[i * GRID + j] = block.sum() / 16
        # a cell overlaps the box when one of its pixels' areas [c, c+1) meets the box's interior
        boxed[i * GRID + j] = any(x0 < c + 1 and x1 > c and y0 < r + 1 and y1 > r
                                  for r in range(4 * i, 4 * i + 4) for c in range(4 * j, 4 * j + 4))
    np.testing.assert_array_equal(cell_coverage(mask, GRID), cover)
    np.testing.assert_array_equal(box_cells(obj.box, SIZE, GRID), boxed)
    assert np.all(boxed[cover > 0])  # the mask lies inside its box
  with pytest.raises(ValueError, match="grid=5"):
    cell_coverage(np.zeros((32, 32), bool), 5)


def _attention(peak_cell, t_noun=2, spread=0.0):
  att = np.full((1, 10, GRID * GRID), spread / (GRID * GRID))
  att[0, t_noun, peak_cell] += 1.0 - spread
  att[0, t_noun - 1, :] = 1.0 / (GRID * GRID)
  return att


def test_peak_mass_and_distance_on_hand_made_attention():
  caption = ["a red circle"]  # the one noun, at t = 2, names A
  on = cell_coverage(S.shape_mask(A, SIZE), GRID) > 0
  centre = 2 * GRID + 2  # pixels [8, 12) x [8, 12): the middle of the red circle at (9.3, 10.7)
  assert on[centre]
  r = attention_on_objects(caption, _attention(centre), [SCENE], SIZE)
  assert r["attention_nouns"] == 1
  assert r["attention_hit_rate"] == 1.0 and r["attention_mask_overlap_rate"] == 1.0
  assert r["attention_mask_mass"] == pytest.approx(1.0) and r["attention_peak_distance"] == 0

  far = 7 * GRID + 7  # the bottom-right corner: nothing there
  r = attention_on_objects(caption, _attention(far, spread=0.5), [SCENE], SIZE)
  assert r["attention_hit_rate"] == 0.0 and r["attention_box_overlap_rate"] == 0.0 and r["attention_mask_overlap_rate"] == 0.0
  assert r["attention_mask_mass"] == pytest.approx(0.5 * on.mean())
  assert r["attention_peak_distance"] == 7 - 3  # rows 1-3 / cols 1-3 hold the circle (x 4.8-13.8, y 6.2-15.2)
  assert r["attention_peak_on_other"] == 0.0
  assert r["attention_mask_cells_chance"] == pytest.approx(on.mean())

  # Uniform attention one step earlier (the colour word): its mass on the object is the chance rate.
  r = attention_on_objects(caption, _attention(centre), [SCENE], SIZE, step_offset=-1)
  assert r["attention_mask_mass"] == pytest.approx(on.mean())

  # The peak on the blue square, while writing "circle": on the other object, distance > 0.
  on_b = cell_coverage(S.shape_mask(B, SIZE), GRID) > 0
  r = attention_on_objects(caption, _attention(int(np.flatnonzero(on_b)[0])), [SCENE], SIZE)
  assert r["attention_peak_on_other"] == 1.0 and r["attention_peak_distance"] >= 1


def test_nouns_that_do_not_name_one_object_are_skipped():
  r = attention_on_objects(["a green circle left of a yellow square"], _attention(0), [SCENE], SIZE)
  assert r["attention_nouns"] == 0 and np.isnan(r["attention_hit_rate"])
  with pytest.raises(ValueError, match="square grid"):
    attention_on_objects(["a red circle"], np.ones((1, 3, 60)) / 60, [SCENE], SIZE)


def test_receptive_field_is_the_conv_arithmetic():
  # [conv3 conv3 pool2] per block then conv3: 5 -> 6 -> (+2 convs at stride 2) 14 -> 16 -> (+1 conv at stride 4) 24
  # pixels. Cell 0 sits on pixels [0, 4); its field starts (24 - 4) / 2 = 10 pixels before, cut by the border: 14.
  model = get_model("attention_lstm", vocab_size=5, wordvec_dim=4, hidden_dim=4, attention_dim=4,
                    encoder_channels=(4, 4), feature_dim=4, global_dim=4)
  variables = jax.jit(lambda key, x: model.init(key, x, method=type(model).encode))(jax.random.key(0), np.zeros((1, SIZE, SIZE, 3)))
  assert receptive_field(model, variables, SIZE, cells=[4 * GRID + 4, 0]) == [(24, 24), (14, 14)]


def test_caption_errors_by_scene_kind_and_word_position():
  same = S.Scene((S.SceneObject("blue", "square", 8.0, 16.0, 4.5), S.SceneObject("blue", "circle", 24.0, 16.0, 4.5)), "left of")
  single = S.Scene((A,))
  scenes = [SCENE, same, same, single]
  refs = [[c.split() for c in sc.captions()] for sc in scenes]
  assert refs[1] == [s.split() for s in ("a blue square left of a blue circle", "a blue circle right of a blue square")]
  captions = ["a blue square right of a red circle",  # the second phrasing, right: not an error
              "a blue square right of a blue circle",  # relation flipped: words 3
              "a blue circle left of a blue circle",  # the first noun wrong: word 2 (7 words in place with the first reference)
              "a red circle"]
  out = caption_errors(captions, refs, scenes)
  assert out == {"scenes": {"pair_two_colours": 1, "pair_one_colour": 2, "single": 1}, "errors": {"pair_one_colour": 2},
                 "positions": {2: 1, 3: 1}}
  assert caption_errors(["a blue square"], refs[1:2], [same])["positions"] == {3: 1, 4: 1, 5: 1, 6: 1, 7: 1}  # words missing
