"""colab/08_image_captioning.ipynb runs top to bottom on CPU."""

from pathlib import Path

import pytest

from cs231n_jax.notebooks import execute_notebook, images_shown, printed_text

NOTEBOOK = Path(__file__).parents[2] / "colab" / "08_image_captioning.ipynb"


@pytest.mark.slow
def test_image_captioning_notebook_runs():
  nb = execute_notebook(NOTEBOOK, timeout=600)
  out = printed_text(nb)
  assert "a <UNK> circle" in out and "raise max_length or pass overflow='truncate'" in out
  # The notebook itself asserts the RNN's overfit loss < 0.1; here: the course loss, the runner's
  # metrics and the COCO-format captions decoded back to words.
  assert "loss 9.83235591" in out and "final loss" in out and "greedy_bleu4" in out and "<START> a " in out
  images = images_shown(nb)
  assert images == 4  # the scenes, the overfit curve, the samples, the attention maps
