"""The lecture 13 measurements: class visualization, fooling and accuracy-vs-epsilon on the digits CNNs,
targeted PGD on a pretrained ImageNet network over the bundled photos, saliency / occlusion / deletion on
synthetic scenes with known object masks, transfer learning on lfw_subset (cs231n_jax/studies/understanding.py).

The ``digits`` part reads the workdirs of experiments/configs/vis/digits_cnn.py and digits_cnn_pgd.py
(``digits.clean_workdir`` / ``digits.pgd_workdir``): train those first. Parts run in the order of ``parts``;
``--config.parts='("scenes",)'`` runs one.

Command: cs231n-jax train --config experiments/configs/vis/understanding.py --workdir workdirs/vis_understanding
Second-round command (parts digits, features, smoothgrad_sweep; the scenes classifier's workdir is reused):
  cs231n-jax train --config experiments/configs/vis/understanding.py --workdir workdirs/vis_understanding_scenes
  --config.parts="('digits','features','smoothgrad_sweep')" --config.scenes.num_train=1000 --config.scenes.epochs=10
  --config.scenes.num_test=50
Expected: measured part by part on CPU-2 (docs/results.md): digits class visualization
  softmax >= 0.99 for 8 of 10 classes with the lecture's score (7: 0.978, 9: 0.940) and for 10 of 10 with the
  log-softmax objective (min 0.99967), fooling 100%; features: 5-NN label agreement 0.959 in pixels vs 0.956 in
  penultimate features, t-SNE 0.919 vs PCA 0.481 inside the 2-D maps; scenes (1,000 train / 10 epochs / 50 test):
  saliency >= 2x in 82% (vanilla), SmoothGrad (n = 50, noise 0.15) 2% (80% at 0.01; squared 94% at 0.01), occlusion 20.7x;
  lfw transfer probe 0.99 vs scratch 1.00; pretrained_fooling (EfficientNet-Lite0, all 8 photos x 10 targets, 60 PGD
  steps: 0.25/255 then 0.1/255 from step 30; run alone with --config.parts="('pretrained_fooling',)", 43.5 min wall at
  load ~25): 80 of 80 within L-inf 2/255, median 1.63/255, median L2 1.22 (77 of 80 by step 30; the 3 later ones all on
  colorwheel); imagenet_classvis (MobileNetV2, 224x224, 200 steps, run alone with
  --config.parts="('imagenet_classvis',)"): target softmax goldfish / Egyptian cat / sports car / espresso 1.000 / 1.000 /
  0.990 / 0.995 with the lecture's score, 0.9996 / 0.994 / 0.990 / 0.994 with log-softmax, top-1 = target for all 8
  (docs/results.md)
"""

from cs231n_jax.studies.understanding import get_base_config


def get_config():
  return get_base_config()
