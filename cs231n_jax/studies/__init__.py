"""The lectures' experiments: engine runs (or the course's own teaching loops) plus analysis, tables
and figures. A study is what an experiment config's ``runner`` names when the experiment is more
than train-and-evaluate; plain training runs name a task's ``run``."""
