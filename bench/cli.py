"""Start-up time of the command line: `mailhub --help` and `mailhub member list` (against a
fresh SQLite store with a few members; also filtered by country), against a bare `python -c
pass`, a bare typer command with member list's options (typer checks each option's value
with a pydantic TypeAdapter: the floor of any command that takes options), and `python -c
"import sqlmodel"` (what reading the store through the models costs), measured in the same
rounds. Target: each command at most 0.3 s.

    python bench/cli.py [--rounds 7]

Each figure is the median over the rounds of the CPU time (user + system) and the wall
time of one process; CPU time is the steadier figure on a machine shared with other work.
The commands run as `python -m mailhub` with this checkout first on PYTHONPATH, after one
warm-up run that writes the bytecode, as an installed package would have it.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 0.3
# The shipped settings (every network, its themes and target mix), with the data elsewhere:
# what an admin's command reads.
SHIPPED = (ROOT / "config.toml").read_text()


# A typer command with the options of `member list` (two of them choices), doing nothing.
BARE_TYPER = """
import enum, typer
class Choice(str, enum.Enum):
    one = "one"
    two = "two"
app = typer.Typer()
@app.command()
def main(
    community: str | None = typer.Option(None, "--community", "-c"),
    role: Choice | None = None,
    delivery: Choice | None = None,
    status: Choice | None = None,
    affiliation: Choice | None = None,
    country: str | None = None,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    pass
app()
"""


def environment(folder: Path) -> dict[str, str]:
    """This checkout's code, the bench's config, and bytecode written as usual."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env["MAILHUB_CONFIG"] = str(folder / "config.toml")
    env.pop("MAILHUB_DATABASE_URL", None)
    env["MAILHUB_SECRET"] = "bench-secret-0123456789abcdef"
    return env


def prepare(folder: Path, env: dict[str, str], members: int = 5) -> None:
    """A fresh store with one community and a few members, made by the CLI itself."""
    (folder / "config.toml").write_text(
        SHIPPED.replace('data_dir = "data"', f'data_dir = "{folder / "data"}"', 1)
    )
    mailhub = [sys.executable, "-m", "mailhub"]
    subprocess.run([*mailhub, "init"], env=env, check=True, capture_output=True)
    for number in range(members):
        add = ["member", "add", f"member{number}@example.org", "--name", f"Member {number}"]
        add += ["-c", "irnet"]
        subprocess.run([*mailhub, *add], env=env, check=True, capture_output=True)


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """CPU seconds (user + system) and wall seconds of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def measure(
    cases: dict[str, list[str]], env: dict[str, str], rounds: int
) -> dict[str, tuple[float, float]]:
    """Median CPU and wall seconds of each case; the cases take turns in every round so that
    a busy moment of the machine falls on all of them alike."""
    for argv in cases.values():
        run_once(argv, env)  # warm-up: bytecode, disk cache
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, argv in cases.items():
            samples[name].append(run_once(argv, env))
    return {
        name: (statistics.median(c for c, _ in runs), statistics.median(w for _, w in runs))
        for name, runs in samples.items()
    }


def report(figures: dict[str, tuple[float, float]], commands: set[str]) -> None:
    bare_cpu = figures["python -c pass"][0]
    for name, (cpu, wall) in figures.items():
        line = f"{name:<28} cpu {cpu:6.3f} s   wall {wall:6.3f} s"
        if name != "python -c pass":
            line += f"   {cpu / bare_cpu:5.1f}x bare"
        if name in commands:
            verdict = "met" if cpu <= TARGET_SECONDS else "NOT met"
            line += f"   target <= {TARGET_SECONDS} s: {verdict}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        env = environment(folder)
        prepare(folder, env)
        commands = {
            "mailhub --help": [python, "-m", "mailhub", "--help"],
            "mailhub member list": [python, "-m", "mailhub", "member", "list", "-c", "irnet"],
            "member list --country TH": [
                *(python, "-m", "mailhub", "member", "list", "-c", "irnet", "--country", "TH")
            ],
        }
        cases = {
            "python -c pass": [python, "-c", "pass"],
            **commands,
            "bare typer command": [python, "-c", BARE_TYPER],
            "python -c 'import sqlmodel'": [python, "-c", "import sqlmodel"],
        }
        figures = measure(cases, env, args.rounds)
    print(f"medians of {args.rounds} rounds (CPU = user + system of the process)")
    report(figures, set(commands))


if __name__ == "__main__":
    main()
