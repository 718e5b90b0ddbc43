"""The Entra cycle: the servers' own cost and the SCIM work (``benchmarks.sync_servers``)."""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

import pytest

from benchmarks import entra_sync
from benchmarks._entra import make_users
from benchmarks.bench_asgi import BASE_URL, TOKEN
from benchmarks.entra_cycle_events import InProcessClient
from benchmarks.events_app import build_app
from benchmarks.run_ceiling import PythonGenerator, make_workload, start_server
from benchmarks.sync_servers import KINDS, bound, ceiling_costs, mix_cost


def test_the_mix_weighs_each_kind_by_its_requests() -> None:
    costs = {"get": 100.0, "post": 200.0, "patch": 300.0, "delete": 50.0}
    mix = {"GET": 2, "POST": 1, "PATCH": 0, "DELETE": 1}
    assert mix_cost(costs, mix) == (2 * 100 + 200 + 50) / 4


def test_a_method_without_a_ceiling_request_is_refused() -> None:
    with pytest.raises(ValueError, match="PUT"):
        mix_cost({"get": 1.0}, {"GET": 1, "PUT": 1})
    with pytest.raises(ValueError, match="no requests"):
        mix_cost({"get": 1.0}, {})


def test_the_break_even_scim_work_keeps_the_target_ratio() -> None:
    app = {"hypercorn": 300.0, "uvicorn": 180.0, "granian": 190.0}
    ceiling = {"hypercorn": 200.0, "uvicorn": 80.0, "granian": 60.0}
    split = bound(app, ceiling, target=2.5)
    assert split["uvicorn"]["scim_work_us"] == 100.0
    assert split["uvicorn"]["ratio"] == round(300 / 180, 3)
    assert split["uvicorn"]["ratio_without_scim_work"] == 2.5
    # At exactly 2.5x with no SCIM work, any SCIM work at all falls short.
    assert split["uvicorn"]["break_even_scim_work_us"] == 0.0
    work = split["granian"]["break_even_scim_work_us"]
    assert work == round((200 - 2.5 * 60) / 1.5, 1)
    assert (200 + work) / (60 + work) == pytest.approx(2.5, abs=1e-3)
    # hypercorn against itself: 1x, unreachable whatever its SCIM work.
    assert split["hypercorn"]["ratio"] == 1.0 and split["hypercorn"]["break_even_scim_work_us"] < 0


async def test_the_simulator_reports_its_requests_by_method() -> None:
    argv = ["--base-url", BASE_URL, "--token", TOKEN, "--users", "12", "--no-progress"]
    simulator = entra_sync.Simulator(
        entra_sync.parse_args(argv), InProcessClient(build_app(TOKEN, events=False), TOKEN)
    )
    await simulator.run_all()
    phases = [phase.summary() for phase in simulator.phases]
    assert sum(p["errors"] for p in phases) == 0
    assert sum(simulator.methods.values()) == sum(p["requests"] for p in phases)
    # Every method the cycle sends has a ceiling request to be weighed by.
    assert set(simulator.methods) == set(KINDS)
    assert simulator.methods["POST"] >= 12 and simulator.methods["DELETE"] >= 12


def test_a_delete_names_a_seeded_user() -> None:
    users = make_users(3, "t", random.Random(1))
    for n, user in enumerate(users):
        user.id = f"id{n}"
    next_request = PythonGenerator(make_workload(users, 3), TOKEN).request_maker("delete", "r")
    assert [next_request() for _ in range(3)] == [
        ("DELETE", "/Users/id1", None),
        ("DELETE", "/Users/id2", None),
        ("DELETE", "/Users/id0", None),
    ]


def test_the_ceiling_answers_every_kind_the_cycle_sends_on_hypercorn() -> None:
    with tempfile.TemporaryDirectory() as directory:
        costs = ceiling_costs(
            ["hypercorn"], Path(directory), {0, 1}, rounds=1, duration=0.2, connections=2
        )
    assert set(costs["hypercorn"]) == set(KINDS.values())
    assert all(us > 0 for us in costs["hypercorn"].values())


def test_an_earlier_tree_is_served_from_its_own_checkout_without_server_option(
    tmp_path: Path,
) -> None:
    # sync_servers --baseline-tree: the tree of the day issue 16 was filed had no --server
    # option (hypercorn only), and its modules must come from its checkout, not this one.
    tree = tmp_path / "tree"
    (tree / "probe").mkdir(parents=True)
    seen = tmp_path / "seen.txt"
    (tree / "probe" / "__main__.py").write_text(
        "import json, os, sys\n"
        f"open({str(seen)!r}, 'w').write(json.dumps([os.getcwd(), sys.argv[1:], __file__]))\n"
    )
    server = start_server("baseline", "hypercorn", ["probe"], tmp_path, {0}, tree=tree)
    server.process.wait(30)
    cwd, argv, module_file = json.loads(seen.read_text())
    assert cwd == str(tree) and module_file.startswith(str(tree))
    assert "--server" not in argv and argv[:2] == ["--host", "127.0.0.1"]
    with pytest.raises(ValueError, match="hypercorn only"):
        start_server("baseline", "granian", ["probe"], tmp_path, {0}, tree=tree)
