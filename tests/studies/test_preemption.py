"""A study stops as soon as one of its engine runs is preempted, however deeply it is nested."""

from cs231n_jax.studies.preemption import PREEMPTED, check_not_preempted, stops_when_preempted


def test_a_study_stops_when_one_of_its_runs_is_preempted():
  ran = []

  @stops_when_preempted
  def study(config, workdir):
    for name, status in (("a", "trained"), ("b", PREEMPTED), ("c", "trained")):
      check_not_preempted({"status": status}, name)
      ran.append(name)
    return {"status": "trained"}

  assert study(None, None) == {"status": PREEMPTED}
  assert ran == ["a"]  # "c" never starts


def test_an_inner_study_lets_the_outer_one_stop_too(capsys):
  after = []

  @stops_when_preempted
  def inner(config, workdir):
    return check_not_preempted({"status": config}, workdir)

  @stops_when_preempted
  def outer(config, workdir):
    assert inner("trained", "first")["status"] == "trained"
    r = inner(PREEMPTED, "second")  # raises through: the outer study never reads r's missing metrics
    after.append(r["quality"])
    return {"status": "trained"}

  assert outer(None, None) == {"status": PREEMPTED} and after == []
  assert capsys.readouterr().out.strip() == "second: preempted; run the same command to resume"
  assert inner(PREEMPTED, "alone") == {"status": PREEMPTED}  # called by itself, it is the outermost study
