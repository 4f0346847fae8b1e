"""Training neural networks (lectures 6-7): the course's whole-run programs, which are themselves
the object of study (the vmapped functional MLP and hyperparameter search, the optimizer race and
schedules, second-order methods, activation statistics), the babysitting checks and monitors, and
the config checks the runners share.

The experiments that train ordinary Flax classifiers through the engine (regularisation, ensembles,
transfer learning, batch norm at a high learning rate, dead ReLUs) and the babysitting diagnosis
are studies: :mod:`cs231n_jax.studies`.
"""
