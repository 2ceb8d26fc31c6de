"""`lake dev`: a real moto server in a background process, saved and restored across restarts."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import events, write_jsonl

from lakehouse.cli import cli
from lakehouse.core.config import Profile, load_profile
from lakehouse.dev import process
from lakehouse.dev import server as dev
from lakehouse.dev.layout import dev_paths
from lakehouse.errors import DevServerError
from lakehouse.io.storage import list_files
from lakehouse.lake import Lakehouse
from lakehouse.testing import write_config

REPO_CONFIG = Path(__file__).resolve().parent.parent / "catalog" / "lake.yaml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class DevProject:
    root: Path
    config: Path
    port: int

    def profile(self) -> Profile:
        return load_profile("dev", self.config)

    def lake(self) -> Lakehouse:  # a fresh one each time: the catalog file may have been restored
        return Lakehouse(self.profile())

    def cli(self, *args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(cli, ["--config", str(self.config), *args], catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    def count(self, table: str) -> int:
        return int(self.lake().query(f"SELECT count(*) AS n FROM {table}")["n"][0].as_py())


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DevProject]:
    """A project whose `dev` profile is the repo's own, on a free port; servers stopped afterwards."""
    port = free_port()
    monkeypatch.setenv("LAKE_DEV_PORT", str(port))
    monkeypatch.delenv("LAKE_PROFILE", raising=False)
    dev_props = yaml.safe_load(REPO_CONFIG.read_text())["profiles"]["dev"]
    config = write_config(tmp_path / "project", "dev", dev_props)
    proj = DevProject(tmp_path / "project", config, port)
    yield proj
    state = process.read_state(dev_paths(proj.profile()))
    if state and process.alive(state["pid"]):
        process.stop_pid(state["pid"])


def _ingest(proj: DevProject, n: int, start: int = 0) -> None:
    src = write_jsonl(proj.root / f"rows-{start}.jsonl", events(n, start))
    proj.lake().ingest("bronze.t", str(src), create=True)


def test_up_ingest_down_up_restores_tables_and_files(project: DevProject) -> None:
    profile = project.profile()
    before = dev.status(profile)
    assert (before["state"], before["pid"], before["saved"]) == ("stopped", None, None)

    started = dev.up(profile)
    assert started["action"] == "started" and started["restore"] == {"mode": "fresh"}
    assert started["endpoint"] == f"http://127.0.0.1:{project.port}"
    assert (started["state"], started["bucket"], started["objects"]) == ("running", "lake-dev", 0)
    assert (project.root / ".lake" / "dev" / "server.json").is_file()
    again = dev.ensure_running(profile)
    assert again["action"] == "already running" and again["pid"] == started["pid"]

    _ingest(project, 5)
    running = dev.status(profile)
    assert running["objects"] > 0

    stopped = dev.down(profile)
    assert stopped["action"] == "stopped" and stopped["save"]["objects"] == running["objects"]
    after = dev.status(profile)
    assert after["state"] == "stopped" and after["saved"]["objects"] == running["objects"]
    assert not (project.root / ".lake" / "dev" / "server.json").exists()
    assert dev.down(profile)["action"] == "not running"

    restarted = dev.up(profile)
    assert restarted["restore"]["mode"] == "restored"
    assert restarted["objects"] == running["objects"]
    assert project.count("bronze.t") == 5
    assert project.lake().read("bronze.t").sort_by("id")["id"].to_pylist() == [0, 1, 2, 3, 4]

    # The server dies without `down`: later commits are lost with its objects, but the restart
    # restores the last saved pair, so the catalog never points at missing files.
    _ingest(project, 3, start=100)
    assert project.count("bronze.t") == 8
    os.kill(restarted["pid"], signal.SIGKILL)
    _wait_dead(restarted["pid"])
    stale = dev.status(profile)
    assert stale["state"] == "stopped" and stale["stale_pid"] == restarted["pid"]

    third = dev.up(profile)
    assert third["stale_pid_removed"] and third["restore"]["mode"] == "restored"
    assert project.count("bronze.t") == 5
    _assert_consistent(project)
    assert dev.down(profile)["save"]["mode"] == "saved"


def test_failed_restore_resets_catalog_and_objects_together(project: DevProject) -> None:
    profile = project.profile()
    dev.up(profile)
    _ingest(project, 4)
    dev.down(profile)
    saved = project.root / ".lake" / "dev" / "s3"
    manifest = json.loads((saved / ".manifest.json").read_text())
    victim = next(saved / o["file"] for o in manifest["objects"] if o["key"].endswith(".parquet"))
    victim.unlink()  # a save damaged on disk: restoring must not leave a half-restored lake

    result = dev.up(profile)
    assert result["restore"]["mode"] == "reset" and "restore failed" in result["restore"]["reason"]
    assert project.lake().tables() == []
    assert result["objects"] == 0 and result["saved"] is None
    assert not saved.exists()
    _ingest(project, 2)  # the reset lake works
    assert project.count("bronze.t") == 2

    # A save without its manifest (interrupted mid-swap) is not trusted either: both sides reset.
    dev.down(profile)
    (saved / ".manifest.json").unlink()
    again = dev.up(profile)
    assert again["restore"]["mode"] == "reset" and project.lake().tables() == []
    assert again["objects"] == 0


def test_stale_pid_without_any_save_resets(project: DevProject) -> None:
    profile = project.profile()
    first = dev.up(profile)
    _ingest(project, 3)
    os.kill(first["pid"], signal.SIGKILL)
    _wait_dead(first["pid"])
    down = dev.down(profile)
    assert down["action"] == "stale pid removed" and down["saved"] is None
    assert not (project.root / ".lake" / "dev" / "server.json").exists()

    second = dev.up(profile)
    assert second["restore"]["mode"] == "reset"
    assert project.lake().tables() == []
    dev.down(profile)


def test_cli_up_status_down_json_and_errors(project: DevProject) -> None:
    code, out, _ = project.cli("dev", "status", "--json")
    assert code == 0 and json.loads(out)["state"] == "stopped"

    code, out, _ = project.cli("dev", "up", "--json")
    assert code == 0, out
    up = json.loads(out)
    assert (up["action"], up["endpoint"]) == ("started", f"http://127.0.0.1:{project.port}")
    code, out, _ = project.cli("dev", "up")
    assert code == 0 and out.startswith(f"already running at http://127.0.0.1:{project.port}")

    code, out, _ = project.cli("dev", "status")
    assert code == 0 and "state     running" in out and "bucket    lake-dev" in out

    code, out, _ = project.cli("dev", "down", "--json")
    assert code == 0 and json.loads(out)["action"] == "stopped"
    code, out, _ = project.cli("dev", "status", "--json")
    assert json.loads(out)["state"] == "stopped"


def test_port_taken_by_another_process_is_an_error(project: DevProject) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", project.port))
        blocker.listen()
        with pytest.raises(DevServerError, match=f"port {project.port} .* is taken"):
            dev.up(project.profile())
        code, _, err = project.cli("dev", "up")
        assert code == 1 and err.startswith(f"Error: port {project.port} on 127.0.0.1 is taken")
    assert dev.status(project.profile())["state"] == "stopped"


def test_refuses_profiles_that_are_not_local_s3(tmp_path: Path) -> None:
    remote = write_config(
        tmp_path / "remote",
        "team",
        {
            "type": "sql",
            "uri": "sqlite:///x.db",
            "warehouse": "s3://b/w",
            "s3.endpoint": "https://s3.example.com",
        },
    )
    with pytest.raises(DevServerError, match="not point at a local server"):
        dev.up(load_profile("team", remote))
    code = CliRunner().invoke(cli, ["--config", str(remote), "--profile", "team", "dev", "status"]).exit_code
    assert code == 1


def _wait_dead(pid: int) -> None:
    deadline = time.monotonic() + 5
    while process.alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not process.alive(pid)


def _assert_consistent(proj: DevProject) -> None:
    """Every data file the catalog names exists in the bucket."""
    profile = proj.profile()
    present = {f.path for f in list_files(profile, "s3://lake-dev")}
    named = {f["path"] for f in proj.lake().files("bronze.t")}
    assert named and named <= present


def test_keys_longer_than_a_file_name_are_saved_and_restored(project: DevProject) -> None:
    """A key segment over 255 bytes used to fail the save ("could not save", exit 0), and the next
    `up` lost every table created since the last save."""
    from lakehouse.io.storage import s3_client

    profile = project.profile()
    dev.up(profile)
    _ingest(project, 4)
    long_key = "warehouse/" + "k" * 300 + "/" + "é" * 200 + ".bin"
    s3 = s3_client(profile)
    s3.put_object(Bucket="lake-dev", Key=long_key, Body=b"long-key-body")
    s3.put_object(Bucket="lake-dev", Key="odd/a", Body=b"object")  # both an object and a prefix
    s3.put_object(Bucket="lake-dev", Key="odd/a/b", Body=b"under it")
    code, out, err = project.cli("dev", "down")
    assert code == 0, err
    assert dev.up(profile)["restore"]["mode"] == "restored"
    assert project.count("bronze.t") == 4
    s3 = s3_client(project.profile())
    for key, body in ((long_key, b"long-key-body"), ("odd/a", b"object"), ("odd/a/b", b"under it")):
        assert s3.get_object(Bucket="lake-dev", Key=key)["Body"].read() == body
    dev.down(profile)


def test_a_failing_save_exits_1_keeps_the_server_and_the_previous_save(project: DevProject) -> None:
    """`down` runs with a 64 KB file-size limit (RLIMIT_FSIZE), so writing the save fails; it must exit 1,
    leave the server running with every object, and keep the previous save whole."""
    import resource
    import subprocess
    import sys

    profile = project.profile()
    dev.up(profile)
    _ingest(project, 3)
    assert dev.down(profile)["save"]["mode"] == "saved"
    dev.up(profile)
    _ingest(project, 2, start=10)
    from lakehouse.io.storage import s3_client

    s3_client(profile).put_object(Bucket="lake-dev", Key="big.bin", Body=b"x" * 200_000)
    saved = project.root / ".lake" / "dev" / "s3"
    before = {p.relative_to(saved): p.stat().st_size for p in saved.rglob("*")}

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    lake = str(Path(sys.executable).with_name("lake"))
    done = subprocess.run(
        [lake, "--config", str(project.config), "dev", "down"],
        capture_output=True, text=True, preexec_fn=small_files, timeout=120, cwd=project.root,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.startswith("Error: could not save") and "keeps running" in done.stderr
    assert dev.status(profile)["state"] == "running"
    assert project.count("bronze.t") == 5
    assert {p.relative_to(saved): p.stat().st_size for p in saved.rglob("*")} == before
    assert dev.down(profile)["save"]["mode"] == "saved"


def test_alive_knows_a_server_started_elsewhere_from_zombies_and_reused_pids() -> None:
    """A server another `lake` process started is found by pid and command line (psutil); a zombie, a
    process that is not a moto server, or a pid that is gone is not alive."""
    import subprocess
    import sys

    import psutil

    assert not process.alive(os.getpid())  # alive, but not a moto server: a reused pid
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    procs = [subprocess.Popen([*sleeper, "moto.server"]) for _ in range(2)]  # not in process._children
    other = subprocess.Popen(sleeper)
    try:
        zombie, stopped = procs
        assert process.alive(zombie.pid) and process.alive(stopped.pid) and not process.alive(other.pid)
        zombie.kill()  # not reaped yet: a zombie that still has its pid
        deadline = time.monotonic() + 5
        while psutil.Process(zombie.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert not process.alive(zombie.pid)
        process.stop_pid(stopped.pid)  # SIGTERM; returns once the server is no longer alive
        assert stopped.wait(timeout=5) == -signal.SIGTERM
        assert not process.alive(stopped.pid)
    finally:
        for proc in (*procs, other):
            proc.kill()
            proc.wait(timeout=5)


def test_up_on_another_port_is_found_by_other_commands(
    project: DevProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lake dev up --port N` while the profile says another port: other commands used to fail with a
    raw `OSError ... NETWORK_CONNECTION` unless LAKE_DEV_PORT=N was set; they read N from server.json."""
    monkeypatch.delenv("LAKE_DEV_PORT")  # the profile's own port is 9753 now
    port = free_port()
    code, _, err = project.cli("dev", "up", "--port", str(port))
    assert code == 0 and f"find port {port} from .lake/dev/server.json" in err
    state = json.loads((project.root / ".lake" / "dev" / "server.json").read_text())
    assert (state["port"], state["profile"]) == (port, "dev")
    src = write_jsonl(project.root / "a.jsonl", events(4))
    code, _, err = project.cli("--profile", "dev", "ingest", "bronze.t", str(src), "--create")
    assert code == 0, err
    assert project.profile().get("s3.endpoint") == f"http://127.0.0.1:{port}"
    assert project.profile().configured_endpoint == "http://127.0.0.1:9753"
    assert project.count("bronze.t") == 4
    code, out, _ = project.cli("dev", "up")  # the running server is this profile's: no second one
    assert code == 0 and out.startswith(f"already running at http://127.0.0.1:{port}")
    code, out, _ = project.cli("dev", "down", "--json")
    assert code == 0 and json.loads(out)["save"]["objects"] > 0
    assert project.profile().get("s3.endpoint") == "http://127.0.0.1:9753"  # stopped: the profile's own


def test_a_state_file_of_another_profile_or_a_dead_pid_redirects_nothing(tmp_path: Path) -> None:
    from lakehouse.core.project import running_dev_endpoint

    state = tmp_path / ".lake" / "dev" / "server.json"
    state.parent.mkdir(parents=True)
    here = "http://127.0.0.1:9753"
    doc = {"pid": os.getpid(), "port": 9811, "endpoint": "http://127.0.0.1:9811", "profile": "dev"}
    state.write_text(json.dumps(doc))
    assert running_dev_endpoint(tmp_path, "dev", here) == "http://127.0.0.1:9811"
    assert running_dev_endpoint(tmp_path, "other", here) is None
    assert running_dev_endpoint(tmp_path, "dev", "https://s3.example.com") is None  # never a remote one
    state.write_text(json.dumps({**doc, "pid": 2**22 + 12345}))
    assert running_dev_endpoint(tmp_path, "dev", here) is None
