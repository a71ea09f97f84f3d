"""docs/ci.md's GitHub Actions workflow, read out of the page: its shape checked against
what the commands and the actions it uses take, and its ``run:`` steps run in order as a
push to main and then as a pull request, in a fresh copy of the repository with a
throwaway store and ``GITHUB_STEP_SUMMARY`` set, so the documented path cannot rot unseen."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from resnet.cli import build_parser

yaml = pytest.importorskip("yaml", reason="pip install pyyaml")

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "ci.md"
#: The only ``if:`` expressions the runner below evaluates (GitHub's own meaning).
CONDITIONS = {
    None: lambda event, ok: ok,
    "always()": lambda event, ok: True,
    "github.event_name == 'push'": lambda event, ok: ok and event == "push",
    "github.event_name == 'pull_request'": lambda event, ok: ok and event == "pull_request",
}
#: A sweep of a few seconds instead of the quick profile (the workflow's BENCH_ARGS).
TINY = "bench/test_throughput.py --bench-profile smoke --versions v1 --modes inference --batch-sizes 1"


def workflow(name: str = "benchmark") -> dict:
    """The workflow of docs/ci.md named ``name`` (benchmark: the gate; ab: the A/B job)."""
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)]
    assert sorted(b["name"] for b in blocks) == ["ab", "benchmark"], "docs/ci.md holds two workflows"
    data = next(b for b in blocks if b["name"] == name)
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def steps(name: str = "benchmark") -> list[dict]:
    (job,) = workflow(name)["jobs"].values()
    return job["steps"]


def commands(script: str) -> list[list[str]]:
    """Every resnet-bench command line of a ``run:`` script, as arguments."""
    joined = script.replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line.startswith(".venv/bin/resnet-bench"):
            out.append(shlex.split(line)[1:])
    return out


def test_the_workflow_runs_on_main_and_pull_requests_with_the_rights_it_needs():
    flow = workflow()
    assert flow["on"]["push"]["branches"] == ["main"] and "pull_request" in flow["on"]
    assert flow["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert flow["concurrency"]["cancel-in-progress"] is False
    (job,) = flow["jobs"].values()
    assert "secrets.RESNET_BENCH_DB" in job["env"]["RESNET_BENCH_DB"]
    checkout = steps()[0]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"]["clean"] is False and "pull_request.head.sha" in checkout["with"]["ref"]


@pytest.mark.parametrize("name", ["benchmark", "ab"])
def test_every_step_is_something_the_runner_below_can_run_and_every_command_parses(name):
    parser = build_parser()
    for step in steps(name):
        assert step.get("if") in CONDITIONS, step.get("if")
        script = step.get("run", "")
        assert "${{" not in script, "expressions go through env, not into scripts"
        for args in commands(script):
            args = [a.replace("$slug", "amd-epyc-x2").replace("$GITHUB_STEP_SUMMARY", "s.md") for a in args]
            parser.parse_args(args)  # SystemExit on an option no command takes


def test_the_charts_alert_where_the_gate_fails_and_only_main_pushes_them():
    flow = steps()
    export = next(s for s in flow if "export" in s.get("run", ""))
    (args,) = commands(export["run"])
    action = next(
        s for s in flow if s.get("uses", "").startswith("benchmark-action/github-action-benchmark@")
    )
    settings = action["with"]
    assert (
        args[args.index("--format") + 1] == "github-action-benchmark"
        and settings["tool"] == "customBiggerIsBetter"
    )
    assert args[args.index("--out") + 1] == settings["output-file-path"]
    gates = [a for s in flow for a in commands(s.get("run", "")) if a[0] in ("compare", "history")]
    limits = {
        a[i + 1] for a in gates for i, x in enumerate(a) if x == "--fail-on" and "images_per_sec" in a[i + 1]
    }
    assert limits == {"images_per_sec:-5%"} and settings["alert-threshold"] == "105%"
    assert settings["auto-push"] == "${{ github.event_name == 'push' }}"
    assert settings["gh-pages-branch"] == "gh-pages"
    first = next(i for i, s in enumerate(flow) if "gh-pages" in s.get("run", ""))
    assert first < flow.index(action) and flow[first]["if"] == "github.event_name == 'push'"


def _fresh_copy(tmp_path: Path, folder: str = "repo") -> Path:
    """The working tree's tracked files in a new repository on main, with a bare origin."""
    repo = tmp_path / folder
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_bytes(source.read_bytes())
            (repo / name).chmod(source.stat().st_mode)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "the commit under test"], cwd=repo, check=True)
    origin = tmp_path / f"{folder}-origin.git" if folder != "repo" else tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(origin)], check=True)
    subprocess.run(["git", "remote", "add", "origin", str(origin)], cwd=repo, check=True)
    (repo / ".venv").symlink_to(ROOT / ".venv")  # a runner set up beforehand (RESNET_BENCH_SETUP=skip)
    return repo


def _runner_env(home: Path, repo: Path, summary: Path) -> dict[str, str]:
    """A runner's environment: a set-up .venv (RESNET_BENCH_SETUP=skip), the copy's code on
    PYTHONPATH, the job summary file GitHub gives a step."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "KERAS_BACKEND": "tensorflow",
        "RESNET_BENCH_SETUP": "skip",
        "PYTHONPATH": str(repo),  # the copy's code, in the runner's environment
        "GITHUB_STEP_SUMMARY": str(summary),
    }


def _run_job(repo: Path, event: str, env: dict[str, str], log: list[str], name: str = "benchmark") -> dict:
    """The job's run: steps as the runner runs them (bash -e -o pipefail, each step's if:)."""
    ok, codes = True, {}
    for step in steps(name):
        if "run" not in step or not CONDITIONS[step.get("if")](event, ok):
            continue
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=repo, env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        codes[step["name"]] = done.returncode
        log.append(
            f"== {event}: {step['name']}: exit {done.returncode}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )
        ok = ok and done.returncode == 0
    return codes


@pytest.mark.slow
@pytest.mark.parametrize("url", ["postgresql"], indirect=True)
def test_the_documented_workflow_runs_as_a_push_to_main_then_as_a_pull_request(tmp_path, url):
    repo = _fresh_copy(tmp_path)
    summary = tmp_path / "summary.md"
    (job,) = workflow()["jobs"].values()
    base = {**_runner_env(tmp_path, repo, summary), "RESNET_BENCH_DB": url, "BENCH_ARGS": TINY}
    assert set(job["env"]) == {"RESNET_BENCH_DB", "BENCH_ARGS"}
    log: list[str] = []
    push = _run_job(repo, "push", {**base, "GITHUB_EVENT_NAME": "push", "GITHUB_REF_NAME": "main"}, log)
    said = "\n".join(log)
    assert push and all(code == 0 for code in push.values()), said
    assert any(name.startswith("Gate on main's history") for name in push), said
    heads = subprocess.run(
        ["git", "ls-remote", "--heads", str(tmp_path / "origin.git")], capture_output=True, text=True
    )
    assert "refs/heads/gh-pages" in heads.stdout, said
    pr_env = {
        **base,
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_HEAD_REF": "feature",
        "GITHUB_REF_NAME": "1/merge",
    }
    pull = _run_job(repo, "pull_request", pr_env, log)
    said = "\n".join(log)
    gate = next(name for name in pull if name.startswith("Gate on main's latest run"))
    # a gate's verdict on a tiny, noisy sweep may be a regression (1); anything else is a broken step
    assert pull[gate] in (0, 1), said
    assert all(code == 0 for name, code in pull.items() if name != gate), said
    text = summary.read_text()
    assert "resnet-bench compare" in text or "comparisons" in text, text[:2000]
    exported = json.loads((repo / "bench.json").read_text())
    assert exported and all({"name", "unit", "value"} <= set(e) for e in exported)
    branches = subprocess.run(
        [str(ROOT / ".venv/bin/resnet-bench"), "store", "list", "--db", url],
        capture_output=True,
        text=True,
        env=base,
    )
    assert "main" in branches.stdout and "feature" in branches.stdout, branches.stdout + branches.stderr


def test_the_ab_job_checks_out_both_sides_and_gates_on_b_over_a():
    flow = workflow("ab")
    assert list(flow["on"]) == ["pull_request"] and flow["permissions"] == {"contents": "read"}
    (job,) = flow["jobs"].values()
    assert job["runs-on"] == workflow()["jobs"]["resnet-bench"]["runs-on"]  # the same one runner
    checkouts = [s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")]
    assert "pull_request.head.sha" in checkouts[0]["with"]["ref"]
    assert (
        "pull_request.base.sha" in checkouts[1]["with"]["ref"] and checkouts[1]["with"]["path"] == ".ab/base"
    )
    script = next(s["run"] for s in job["steps"] if "--ab=" in s.get("run", ""))
    assert (
        '--ab-a="$PWD/.ab/base"' in script and "--fail-on=-3%" in script and "GITHUB_STEP_SUMMARY" in script
    )
    assert ".ab/" in (ROOT / ".gitignore").read_text().splitlines()


@pytest.mark.slow
def test_the_documented_ab_job_runs_as_a_pull_request(tmp_path):
    """Its run: steps in a fresh copy (stack B), a second copy at .ab/base standing in for
    main's checkout (stack A), a tiny A/B sweep instead of the quick one (AB_ARGS)."""
    repo = _fresh_copy(tmp_path)
    base_copy = _fresh_copy(tmp_path, "base")
    (repo / ".ab").mkdir()
    base_copy.rename(repo / ".ab" / "base")
    summary = tmp_path / "summary.md"
    env = {
        **_runner_env(tmp_path, repo, summary),
        "GITHUB_EVENT_NAME": "pull_request",
        "AB_ARGS": "--bench-profile smoke --versions v1 --modes inference --batch-sizes 1 --paired off "
        "--paired-rounds 8",
    }
    log: list[str] = []
    codes = _run_job(repo, "pull_request", env, log, "ab")
    said = "\n".join(log)
    gate = next(name for name in codes if name.startswith("A/B"))
    assert codes[gate] in (0, 1), said  # a tiny sweep's verdict may be either; 2 or more is broken
    assert all(code == 0 for name, code in codes.items() if name != gate), said
    rows = json.loads((repo / "ab.json").read_text())["resnet_bench"]["cases"]
    (row,) = [r for r in rows if r["kind"] == "ab"]
    assert row["status"] == "ok", row
    assert row["stack_a"].endswith(f"checkout {repo / '.ab' / 'base'}"), row["stack_a"]
    assert row["stack_b"].endswith(f"checkout {repo}"), row["stack_b"]
    assert f"resnet from {repo / '.ab' / 'base'}" in row["stack_a"]
    assert summary.read_text().startswith("### resnet-bench A/B:"), summary.read_text()[:500]
