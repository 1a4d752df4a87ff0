#!/usr/bin/env python3
"""Set up everything ShopNudge needs on a machine with only python3, then run it.

    python3 dev.py demo    seed the demo shop and serve it at http://127.0.0.1:5000
    python3 dev.py test    lint and run the whole test suite (extra arguments go to pytest)
    python3 dev.py mutate [MODULE...] [--keep] [MUTANT...]
                           mutation-test the modules that decide who gets a message and what
                           it costs (default: all of MUTATION_TARGETS) and print killed /
                           survived / timeout per module; slow, so not part of CI. MUTANT
                           names (plugin.engine.dispatch.x_judge__mutmut_57) run only those
                           mutants, and the figures count only them
    python3 dev.py translations
                           extract the strings marked for translation (babel.cfg) into
                           plugin/translations/messages.pot, merge them into every .po
                           catalogue, then compile the .mo files; commit all three, so a
                           fresh checkout runs without a build step

Both create (or reuse) .venv beside this file and install the project into it; they reinstall
only when pyproject.toml changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".bootstrap-stamp"
CHROMIUM = Path("/usr/bin/chromium")


def run(*args: str | Path, **kwargs: object) -> None:
    subprocess.run([str(a) for a in args], check=True, **kwargs)  # type: ignore[call-overload]


def ensure_venv(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 (dev.py runs on whatever python3 is)
        sys.exit(f"ShopNudge needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    print("installing ShopNudge and its dependencies into .venv", flush=True)
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    target = f".[{extras}]" if extras else "."
    run(PYTHON, "-m", "pip", "install", "--quiet", "-e", target, cwd=ROOT)
    STAMP.write_text(wanted)


def ensure_chromium() -> None:
    """Browser tests use Debian's chromium; install it where we may, never download one."""
    if CHROMIUM.exists():
        return
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing Debian's chromium for the browser tests", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run("apt-get", "update", "-qq", env=env)
        run("apt-get", "install", "-y", "-qq", "chromium", env=env)
    else:
        print(
            "note: /usr/bin/chromium is missing, browser tests will be skipped "
            "(install Debian's chromium package to run them)",
            flush=True,
        )


def demo(args: list[str]) -> int:
    ensure_venv("")
    return subprocess.call([str(BIN / "shopnudge"), "demo", *args], cwd=ROOT)


def test(args: list[str]) -> int:
    ensure_venv("dev")
    ensure_chromium()
    for check in (["ruff", "check", "."], ["ruff", "format", "--check", "."]):
        if subprocess.call([str(BIN / check[0]), *check[1:]], cwd=ROOT) != 0:
            return 1
    return subprocess.call([str(PYTHON), "-m", "pytest", *args], cwd=ROOT)


TRANSLATIONS = ROOT / "plugin" / "translations"


def translations(_args: list[str]) -> int:
    """Extract, update and compile the gettext catalogues with Babel's own pybabel."""
    ensure_venv("")
    pybabel = str(BIN / "pybabel")
    template = TRANSLATIONS / "messages.pot"
    steps = [
        [pybabel, "extract", "-F", "babel.cfg", "-k", "lazy_gettext", "--no-location",
         "--sort-output", "--project", "ShopNudge", "-o", str(template), "."],
        [pybabel, "update", "-i", str(template), "-d", str(TRANSLATIONS), "--no-fuzzy-matching"],
        [pybabel, "compile", "-d", str(TRANSLATIONS), "--statistics"],
    ]  # fmt: skip
    for step in steps:
        if subprocess.call(step, cwd=ROOT) != 0:
            return 1
    return 0


#: Module -> the tests that cover it; mutmut runs, per mutant, those of them that reach it.
ENGINE_TESTS = [
    "tests/engine/test_breaks_caught.py",
    "tests/engine/test_cart_reminders_end_to_end.py",
    "tests/engine/test_quiet_hours_and_caps.py",
    "tests/engine/test_dispatch.py",
    "tests/engine/test_budget_through_tick.py",
]
#: Tests that measure time (a 40 ms budget, calls held by a stalling fake): they fail on a
#: machine loaded by the mutation run itself, which would count as kills.
TIMED_OUT_UNDER_LOAD = [
    "--deselect=tests/engine/test_dispatch.py::"
    "test_a_run_out_of_time_gives_back_what_it_has_no_tokens_for_and_ends",
    "--deselect=tests/engine/test_dispatch.py::"
    "test_the_rows_handed_off_are_exactly_the_calls_in_flight",
]
MUTATION_TARGETS: dict[str, list[str]] = {
    "plugin/engine/guards.py": [
        *ENGINE_TESTS,
        "tests/engine/test_guard_rules.py",
        "tests/engine/test_compose_rows.py",
        "tests/whatsapp/test_double_optin.py",  # the confirmation's own guards
        *TIMED_OUT_UNDER_LOAD,
    ],
    # what the guards read: the loader every path (compose, the campaign plan, dispatch) uses
    "plugin/engine/preload.py": [
        *ENGINE_TESTS,
        "tests/engine/test_preload.py",
        "tests/engine/test_recent_sends.py",
        "tests/engine/test_guard_rules.py",
        "tests/engine/test_compose_rows.py",
        "tests/whatsapp/test_double_optin.py",  # what the confirmation's guards read
        *TIMED_OUT_UNDER_LOAD,
    ],
    "plugin/engine/holdout.py": [*ENGINE_TESTS[:2], "tests/engine/test_holdout_share.py"],
    "plugin/engine/attribution.py": [
        "tests/engine/test_attribution_rules.py",
        "tests/engine/test_breaks_caught.py",
        "tests/engine/test_links_and_attribution.py",
    ],
    "plugin/engine/outbox.py": [
        *ENGINE_TESTS,
        "tests/engine/test_recommendations.py",
        "tests/engine/test_outbox_insert.py",
        "tests/engine/test_compose_rows.py",
        "tests/engine/test_recent_sends.py",
        "tests/engine/test_outbox_rules.py",
        "tests/engine/test_guard_rules.py",
    ],
    # dispatch_due runs in nearly every engine test: its mutants get the tests that drive it
    # directly and quickly. Left out: the ones that measure time (a 40 ms budget, calls held by
    # a stalling fake) and the fake Graph API's end-to-end tests, whose 2 s client timeout
    # expires while the mutation run itself loads the machine (the row then ends
    # `sending_unconfirmed`); test_dispatch_outcomes.py gives the fake's client 30 s
    "plugin/engine/dispatch.py": [
        "tests/engine/test_dispatch.py",
        "tests/engine/test_dispatch_rules.py",
        "tests/engine/test_dispatch_outcomes.py",  # the fake Graph API, with a 30 s timeout
        "tests/engine/test_cart_reminders_end_to_end.py",
        *TIMED_OUT_UNDER_LOAD,
    ],
    # a row's states through dispatch (claim, hand-off, give back, record, reconcile, expire):
    # the same tests as dispatch.py's loop, for the same reasons
    "plugin/engine/claims.py": [
        "tests/engine/test_dispatch.py",
        "tests/engine/test_dispatch_rules.py",
        "tests/engine/test_dispatch_outcomes.py",
        "tests/engine/test_cart_reminders_end_to_end.py",
        *TIMED_OUT_UNDER_LOAD,
    ],
    "plugin/consent/ledger.py": [
        "tests/test_consent_ledger.py",
        "tests/test_consent_ledger_rules.py",
        "tests/test_consent_optin.py",
        "tests/test_consent_optout.py",
        "tests/test_consent_records.py",
    ],
    "plugin/whatsapp/pricing.py": [
        "tests/whatsapp/test_pricing.py",
        "tests/whatsapp/test_pricing_rules.py",
        "tests/engine/test_budget_through_tick.py",
        "tests/test_dashboard.py",
    ],
    "plugin/whatsapp/errors.py": [
        "tests/whatsapp/test_errors.py",
        "tests/whatsapp/test_error_rules.py",
        "tests/test_consent_optout.py",
    ],
}
#: mutmut's exit codes per mutant, folded into the three figures we report (mutmut/stats.py).
KILLED_CODES = {1, 3, 37}
SURVIVED_CODES = {0}
TIMEOUT_CODES = {24, -24, 36, 152, 255}


def mutmut_config(modules: list[str]) -> str:
    """The [tool.mutmut] table for one run over `modules` with the tests that cover them."""
    tests = sorted({test for module in modules for test in MUTATION_TARGETS[module]})
    # tests also read the README (the documented tables), the CHANGELOG and docs/ (the error
    # table as rendered in docs/whatsapp-errors.md)
    copied = ("connectors", "migrations", "wsgi.py", "README.md", "CHANGELOG.md", "docs")
    also_copy = [p for p in copied if (ROOT / p).exists()]
    return (
        "\n[tool.mutmut]\n"
        f'source_paths = ["plugin"]\n'
        f"only_mutate = {json.dumps(modules)}\n"
        f"also_copy = {json.dumps(also_copy)}\n"
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q"]\n'
    )


def mutation_counts(tree: Path, module: str, only: set[str] | None = None) -> Counter[str]:
    """killed / survived / timeout / other for one module (of the mutants `only` names, if
    given), from mutmut's record of the run."""
    meta = tree / "mutants" / f"{module}.meta"
    codes = json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}
    counts: Counter[str] = Counter(killed=0, survived=0, timeout=0, other=0)
    for name, code in codes.items():
        if only is not None and name not in only:
            continue
        if code in KILLED_CODES:
            counts["killed"] += 1
        elif code in SURVIVED_CODES:
            counts["survived"] += 1
        elif code in TIMEOUT_CODES:
            counts["timeout"] += 1
        else:
            counts["other"] += 1  # no tests reached it, not checked, suspicious
    return counts


def mutate(args: list[str]) -> int:
    """Mutation-test the committed tree (HEAD) in a copy; the working tree is never touched."""
    ensure_venv("dev")
    keep = "--keep" in args
    # a re-run of named mutants (say the survivors of a run, against tests written since)
    mutants = [a for a in args if "__mutmut_" in a]
    modules = [a for a in args if a != "--keep" and a not in mutants] or list(MUTATION_TARGETS)
    unknown = [m for m in modules if m not in MUTATION_TARGETS]
    if unknown:
        print(f"unknown module(s): {', '.join(unknown)}; choose from:", *MUTATION_TARGETS)
        return 2
    tree = Path(tempfile.mkdtemp(prefix="shopnudge-mutate-"))
    try:
        archive = subprocess.run(
            ["git", "archive", "HEAD"], cwd=ROOT, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        with (tree / "pyproject.toml").open("a") as pyproject:
            pyproject.write(mutmut_config(modules))
        env = dict(os.environ, PYTHONPATH=str(tree))
        # the fakes check requests against the vendors' specifications beside the checkout
        env.setdefault("SHOPNUDGE_VENDOR_DIR", str(ROOT.parent / "shared" / "vendor"))
        children = str(os.cpu_count() or 1)
        run = [str(BIN / "mutmut"), "run", "--max-children", children, *mutants]
        subprocess.call(run, cwd=tree, env=env)
        header = ("module", "killed", "survived", "timeout", "other", "score")
        print("\n{:34} {:>7} {:>9} {:>8} {:>6} {:>6}".format(*header))
        worst = 100.0
        for module in modules:
            counts = mutation_counts(tree, module, set(mutants) if mutants else None)
            total = sum(counts.values())
            score = 100.0 * counts["killed"] / total if total else 0.0
            worst = min(worst, score)
            print(
                f"{module:34} {counts['killed']:7} {counts['survived']:9} "
                f"{counts['timeout']:8} {counts['other']:6} {score:5.1f}%"
            )
        if keep:
            print(f"\nmutants kept in {tree} (cd there; {BIN / 'mutmut'} browse)")
        return 0 if worst >= 85.0 else 1
    finally:
        if not keep:
            shutil.rmtree(tree, ignore_errors=True)


def main() -> int:
    commands = {"demo": demo, "test": test, "mutate": mutate, "translations": translations}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
