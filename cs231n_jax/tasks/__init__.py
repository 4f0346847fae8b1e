"""Training objectives as tasks the engine runs (:class:`cs231n_jax.train.task.Task`): one module
per objective. A task module builds ``(task, data)`` from a config; the model is chosen here, by
the caller of the engine, never inside ``train/``."""
