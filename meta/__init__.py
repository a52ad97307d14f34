"""Meta-learning: the shared functional inner loop (``meta.inner_loop``) and the
meta-learners built on it, with the task families they train on
(``meta.symmetry``: meta-learning symmetries by reparametrization)."""
