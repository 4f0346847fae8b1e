"""The experiments of lectures 6-7 (training neural networks), as runners ``run_xxx(config, workdir)``.

Studies that are their own compiled programs (activation statistics, the optimizer race,
second-order methods, the vmapped hyperparameter search, babysitting) live next to the runners that
train ordinary Flax classifiers through the engine (regularisation, ensembles, transfer learning,
batch norm at a high learning rate, dead ReLUs).
"""
