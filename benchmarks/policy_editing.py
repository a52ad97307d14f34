"""Policy editing's table: a new reach target in one goal quadrant, for FT, FT+L, MEND and SERAC on a trained MT-SAC.

The edits of ``meta.editing.policy.behaviour``: in reach episodes whose goal
lies in one quadrant of its goal box (x-z), reach the goal moved by an offset
instead.  For each of the four held-out ``TEST_EDITS`` (one per quadrant), an
editor gets ``--demo-episodes`` noisy expert episodes of the new behaviour,
and the edited policy is scored on: edit success (in-scope evaluation
episodes that reached the new target), reach's success outside the quadrant,
and every other task's success (``--task-episodes`` test episodes each), the
unedited policy's beside them.  MEND and SERAC are first meta-trained on
``--train-edits`` random edits (``meta.editing.policy.training``) for ``--meta-steps`` Adam
steps; their wall-clock is printed.  Prints the mean over the test edits per
editor, each other task's change in points, the worst change, and whether it
stays within ``--tolerance`` points; writes everything to ``--json``.

    python -m launch train mt10-pcgrad --run.budget 1200000 --run.name policy-edit-mt10-1200k --run.eval-every 400000
    python -m benchmarks.policy_editing runs/policy-edit-mt10-1200k --json docs/policy_editing.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from envs.benchmarks import get_benchmark
from envs.evaluation import BatchedEvaluator
from meta.editing.policy import behaviour
from meta.editing.policy.actor import ActorPolicy, PolicyEdit
from meta.editing.policy.finetune import PolicyFineTune
from meta.editing.policy.mend import PolicyMEND
from meta.editing.policy.serac import PolicySERAC
from meta.editing.policy.training import EditBatches, meta_train


def load_policy(run: str) -> tuple[ActorPolicy, str]:
    from launch.experiment import restore

    learner, name, _, env, path = restore(run, device="cpu")
    if name != "mtsac":
        raise SystemExit(f"{path} is a {name} run; policy editing edits an MT-SAC actor")
    policy = ActorPolicy.from_mtsac(learner)
    learner.close()
    return policy, env.benchmark


def build_editors(policy: ActorPolicy, pool, args) -> tuple[dict, dict]:
    torch.manual_seed(args.seed)
    pool_t = tuple(torch.as_tensor(a) for a in pool)
    editors = {"FT": PolicyFineTune(seed=args.seed),
               "FT+L": PolicyFineTune(locality_weight=1.0, locality_states=pool_t, seed=args.seed)}
    batches = EditBatches(policy, pool, edits=args.train_edits, reach_episodes=args.train_edits, seed=args.seed)
    mend = PolicyMEND(policy, rank=32, edit_lr=args.mend_edit_lr)
    serac = PolicySERAC(len(policy.task_names), pool_t[0])
    costs = {"MEND": meta_train(mend, lambda b: mend.meta_loss(policy, *b, edit_weight=args.mend_edit_weight), batches,
                                steps=args.meta_steps, log_every=args.meta_steps // 4),
             "SERAC": meta_train(serac, lambda b: serac.meta_loss(*b), batches, steps=args.meta_steps,
                                 log_every=args.meta_steps // 4)}
    editors["MEND"], editors["SERAC"] = mend.eval(), serac.eval()
    return editors, costs


def score(policy, edit, evaluator, seeds, args) -> dict:
    tasks = evaluator(policy.numpy_policy(), args.task_episodes)
    return {"edit_success": behaviour.edit_success(policy, edit, seeds["in"]),
            "reach_in_scope": behaviour.reach_success(policy, seeds["in"]),
            "reach_outside": behaviour.reach_success(policy, seeds["out"]),
            "tasks": {task: tasks.rows[task]["success_rate"] for task in policy.task_names if task != "reach"}}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", help="an MT-SAC run directory or checkpoint (one-hot conditioned)")
    parser.add_argument("--meta-steps", type=int, default=4000)
    parser.add_argument("--train-edits", type=int, default=256, help="random edits MEND and SERAC meta-train on")
    parser.add_argument("--demo-episodes", type=int, default=6)
    parser.add_argument("--eval-episodes", type=int, default=40, help="in-scope and out-of-scope reach episodes per edit")
    parser.add_argument("--task-episodes", type=int, default=50, help="test episodes of every other task")
    parser.add_argument("--mend-edit-lr", type=float, default=0.1)
    parser.add_argument("--mend-edit-weight", type=float, default=1.0)
    parser.add_argument("--tolerance", type=float, default=2.0, help="points the other tasks may move")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    policy, benchmark = load_policy(args.run)
    pool = behaviour.policy_states(policy, benchmark, episodes_per_task=6, seed=args.seed)
    editors, costs = build_editors(policy, pool, args)
    evaluator = BatchedEvaluator(get_benchmark(benchmark), "test", num_threads=1)
    reach = policy.task_id("reach")
    results = {name: [] for name in ("unedited", *editors)}
    for edit in behaviour.TEST_EDITS:
        seeds = {"in": behaviour.in_scope_seeds(edit, args.eval_episodes, "evaluation"),
                 "out": behaviour.in_scope_seeds(edit, args.eval_episodes, "evaluation", inside=False)}
        states, actions = behaviour.demonstrations(
            [edit], [behaviour.in_scope_seeds(edit, args.demo_episodes, "demonstrations")], seed=args.seed)
        request = [PolicyEdit(reach, torch.as_tensor(states[0]), torch.as_tensor(actions[0]))]
        results["unedited"].append(score(policy, edit, evaluator, seeds, args))
        for name, editor in editors.items():
            results[name].append(score(editor.edit(policy, request), edit, evaluator, seeds, args))
        print(f"{edit}: " + ", ".join(f"{n} ES {r[-1]['edit_success']:.2f}" for n, r in results.items()), flush=True)
    evaluator.close()
    print_table(results, policy, args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"run": str(args.run), "edits": [str(e) for e in behaviour.TEST_EDITS],
                                         "meta_training": costs, "results": results,
                                         "seconds": time.perf_counter() - start}, indent=1) + "\n")
    print(f"total {time.perf_counter() - start:.0f} s; meta-training " +
          ", ".join(f"{n} {c['seconds']:.0f} s" for n, c in costs.items()))


def print_table(results: dict, policy: ActorPolicy, args) -> None:
    others = [task for task in policy.task_names if task != "reach"]
    before = {task: np.array([r["tasks"][task] for r in results["unedited"]]) for task in others}
    print(f"\nmean over {len(behaviour.TEST_EDITS)} held-out edits; other tasks: change in success, points "
          f"({args.task_episodes} test episodes each)")
    head = f"{'editor':9} {'ES':>5} {'reach in':>8} {'reach out':>9} " + " ".join(f"{t[:10]:>10}" for t in others)
    print(head + f" {'worst':>6} within {args.tolerance:g}")
    for name, rows in results.items():
        change = {task: 100 * (np.array([r["tasks"][task] for r in rows]) - before[task]) for task in others}
        worst = max(float(np.abs(c).max()) for c in change.values())
        cells = " ".join(f"{c.mean():>+10.1f}" if name != "unedited" else f"{100 * before[t].mean():>10.1f}"
                         for t, c in change.items())
        mean = {k: np.mean([r[k] for r in rows]) for k in ("edit_success", "reach_in_scope", "reach_outside")}
        verdict = "" if name == "unedited" else ("yes" if worst <= args.tolerance else "no")
        print(f"{name:9} {mean['edit_success']:5.2f} {mean['reach_in_scope']:8.2f} {mean['reach_outside']:9.2f} {cells} "
              f"{'' if name == 'unedited' else f'{worst:6.1f}':>6} {verdict}")


if __name__ == "__main__":
    main()
