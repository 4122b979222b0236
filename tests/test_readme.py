"""The README tells the truth: every `snnhw` command it shows names a real subcommand and
only options that subcommand takes, and the two first commands are the ones `.ci/run` and a
newcomer run. The commands themselves run in the tests of their stage (test_demo: the demo;
test_fit: build --target for the board and the target synth then takes; test_synth,
test_board, test_hostlink: synth, the board bitstream and the host of snnhw run; test_sweep,
test_nir, test_recipes: sweep, import/export, train)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from snnhw.cli import _parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = _parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _shown_commands() -> list[str]:
    """Every `snnhw ...` the README shows, inline or in a code block."""
    inline = re.findall(r"`(snnhw [^`]+)`", README)
    blocks = re.findall(r"^    (?:.*&& )?(snnhw [^&\n]+)", README, flags=re.M)
    return inline + blocks


def test_every_command_in_the_readme_exists_with_its_options():
    commands = _shown_commands()
    assert len(commands) >= 15
    parsers = _subcommands()
    for command in commands:
        words = command.split()
        assert words[1] in parsers, f"README shows `{command}`: no subcommand {words[1]!r}"
        known = {o for a in parsers[words[1]]._actions for o in a.option_strings}
        for option in re.findall(r"(?<![\w-])--[a-z][a-z-]*", command):
            assert option in known, f"README shows `{command}`: snnhw {words[1]} has no {option}"


def test_the_first_two_commands_are_the_demo_and_the_ci_test_command():
    blocks = re.findall(r"^    (\S.*)$", README, flags=re.M)
    demo, tests = blocks[0], blocks[1]
    assert demo.endswith("pip install -e . && snnhw demo")
    ci = (ROOT / ".ci" / "run").read_text()
    assert tests.endswith("python3 -m pytest -n 2 -q")
    assert "python3 -m pytest -n 2 -q" in ci
    for package in ("iverilog", "make", "g++", "ccache", "chromium", "fonts-liberation"):
        assert package in tests and package in ci, package
    for step in ('pip install -q -e ".[test]"', "--no-deps norse==1.1.0 sinabs==3.1.3"):
        assert step in ci
    assert 'pip install -e ".[test]"' in tests and "--no-deps norse==1.1.0 sinabs==3.1.3" in tests
