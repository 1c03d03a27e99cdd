"""`fc-emulator images list/build`: one image per runtime, each with the language version the catalog
promises (exact where a source has FC's version, the nearest one otherwise). Docker-only; the images
are the ones scripts/test builds (`images build --offline --if-missing`)."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from emulator.execution import catalog, images
from emulator.execution.images.mirror import host_mirror
from tests.helpers import ROOT, docker_problem


def cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emulator", "images", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def table_rows(output: str) -> dict[str, list[str]]:
    """`images list` output -> {runtime: [image, status, fc runs, image has, match, build]}."""
    lines = output.strip().splitlines()
    header = lines[0]
    starts = [m.start() for m in re.finditer(r"\S+(?: \S+)*", header)]
    rows = {}
    for line in lines[1:]:
        cells = [line[a:b].strip() for a, b in zip(starts, starts[1:] + [None])]
        rows[cells[0]] = cells[1:]
    return rows


@pytest.fixture(scope="module")
def engine():
    problem = docker_problem()
    if problem:
        if os.environ.get("FC_EMULATOR_TEST_DOCKER") == "1":
            pytest.fail(f"Docker tests required but Docker is not usable: {problem}")
        pytest.skip(problem)
    import docker
    client = docker.from_env(timeout=120)
    yield client
    client.close()


def run_in(engine, image: str, *argv: str) -> str:
    return engine.containers.run(image, list(argv), remove=True, stdout=True, stderr=True).decode().strip()


def test_list_shows_every_runnable_runtime_present_with_its_language(engine):
    out = cli("list")
    assert out.returncode == 0, out.stderr
    rows = table_rows(out.stdout)
    assert set(rows) == set(catalog.RUNTIMES)  # every FC runtime has a row, runnable or not
    for rt in images.default_runtimes():
        image, status, fc_runs, has, match, build = rows[rt.name]
        assert (image, status, fc_runs) == (rt.image, "present", rt.language), rows[rt.name]
        assert build in ("offline", "online"), rows[rt.name]
        # Online builds are exact; offline ones exactly as the catalog says, from the version inside.
        want = "exact" if build == "online" or rt.offline_exact else "nearest"
        assert match == want, (rt.name, rows[rt.name])
        if rt.family == catalog.PYTHON:
            assert re.fullmatch(r"Python \d+\.\d+\.\d+", has), has
            if match == "exact":
                assert has.startswith(f"Python {rt.version}."), has
        if rt.family == catalog.NODEJS:
            assert has.startswith(f"Node.js v{rt.version}."), has  # every Node major is exact, online or not


def test_list_shows_a_missing_image_and_the_override_serve_would_use(engine):
    out = cli("list", "python3.9", "nodejs8",
              env={"FC_EMULATOR_RUNTIME_IMAGES": "python3.9=fc-emulator/no-such-image:1"})
    assert out.returncode == 0, out.stderr
    rows = table_rows(out.stdout)
    assert list(rows) == ["python3.9", "nodejs8"]
    assert rows["python3.9"][:2] == ["fc-emulator/no-such-image:1", "missing"]
    assert rows["python3.9"][3:] == ["-", "-", "-"]
    assert rows["nodejs8"][:2] == ["fc-emulator/nodejs8:latest", "present"]


def test_images_answer_with_the_languages_they_claim(engine):
    assert run_in(engine, "fc-emulator/python2.7:latest", "python2.7", "-c", "print 'py2 syntax'") == "py2 syntax"
    assert run_in(engine, "fc-emulator/python2.7:latest", "python2.7", "--version").startswith("Python 2.7.")
    assert run_in(engine, "fc-emulator/nodejs8:latest", "node", "--version").startswith("v8.")
    assert run_in(engine, "fc-emulator/nodejs4.4:latest", "node", "--version").startswith("v4.")
    # A nearest image still answers to the runtime's interpreter name (the Docker backend runs python3.6).
    py36 = run_in(engine, "fc-emulator/python3.6:latest", "python3.6", "--version")
    label = engine.images.get("fc-emulator/python3.6:latest").labels[images.labels.LANGUAGE]
    assert py36 == label
    # go1's runtime-API bridge and custom runtimes' bootstraps need python3 (custom: node too).
    assert run_in(engine, "fc-emulator/go1:latest", "python3", "--version").startswith("Python 3.")
    custom = run_in(engine, "fc-emulator/custom:latest", "sh", "-c", "python3 --version && node --version")
    assert re.fullmatch(r"Python 3\.\d+\.\d+\nv\d+\.\d+\.\d+", custom), custom


def test_runtimes_of_one_recipe_share_one_image(engine):
    ids = {rt.name: engine.images.get(rt.image).id for rt in images.default_runtimes()}
    assert ids["python3"] == ids["python3.6"] == ids["python3.7"] == ids["python3.8"] == ids["python3.9"] \
        or engine.images.get("fc-emulator/python3.9:latest").labels.get(images.labels.BUILD) == "online"
    assert ids["nodejs8"] != ids["nodejs10"]


def test_build_if_missing_keeps_present_images(engine):
    before = engine.images.get("fc-emulator/go1:latest").id
    out = cli("build", "--offline", "--if-missing", "go1", "python2.7")
    assert out.returncode == 0, out.stderr
    assert re.search(r"^\[\s*\d+\.\ds\] fc-emulator/go1:latest is present$", out.stdout, re.M), out.stdout
    assert "docker import" not in out.stdout and "debootstrap" not in out.stdout
    assert engine.images.get("fc-emulator/go1:latest").id == before


def test_offline_build_of_one_runtime_from_the_cache(engine):
    if os.geteuid() != 0:
        pytest.skip("the offline build needs root")
    old = engine.images.get("fc-emulator/go1:latest").id
    out = cli("build", "--offline", "go1")
    assert out.returncode == 0, out.stdout + out.stderr
    steps = re.findall(r"^\[\s*(\d+\.\d)s\] (.*)$", out.stdout, re.M)
    assert steps and steps[-1][1] == "done: go1", out.stdout
    assert [float(t) for t, _ in steps] == sorted(float(t) for t, _ in steps)  # elapsed time, never backwards
    assert "docker import -> fc-emulator/go1:latest" in out.stdout
    new = engine.images.get("fc-emulator/go1:latest")
    assert new.id != old
    assert new.labels[images.labels.RECIPE] == "go1" and new.labels[images.labels.BUILD] == "offline"
    assert run_in(engine, "fc-emulator/go1:latest", "python3", "--version") == new.labels[images.labels.LANGUAGE]
    assert old not in {i.id for i in engine.images.list()}  # the replaced image is not left dangling


def test_unknown_runtime_is_refused_naming_the_known_ones():
    out = cli("build", "cobol")
    assert out.returncode == 1
    assert "unknown runtime cobol" in out.stderr and "python2.7" in out.stderr and "(or all)" in out.stderr


def test_the_debian_mirror_comes_from_the_hosts_apt_sources(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text("# deb http://old.example/debian bookworm main\n")
    (tmp_path / "sources.list.d" / "other.sources").write_text(
        "Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\nComponents: main\n")
    (tmp_path / "sources.list.d" / "zz.list").write_text(
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.local/debian/ bookworm main\n")
    assert host_mirror(tmp_path) == "http://mirror.local/debian"
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://apt.local/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://apt.local/debian-security\nSuites: bookworm-security\nComponents: main\n")
    assert host_mirror(tmp_path) == "http://apt.local/debian"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert host_mirror(empty) is None  # then debootstrap uses its own default


def test_online_build_path_on_a_local_base(engine, monkeypatch):
    """The online recipe (FROM the language's image, version read back into a label), on a local base
    since no registry is reachable here; FC's built-in modules are left out (they come from PyPI)."""
    import dataclasses
    monkeypatch.setenv(images.NO_MODULES_ENV, "1")
    rt = dataclasses.replace(catalog.get("python3.9"), name="test-online-python3.9",
                             online_base="fc-emulator/python3.9:latest")
    lines: list[str] = []
    try:
        images.build(engine, [rt], offline=False, echo=lines.append)
        built = engine.images.get(rt.image)
        assert built.labels[images.labels.BUILD] == "online"
        assert built.labels[images.labels.BASE] == "fc-emulator/python3.9:latest"
        assert built.labels[images.labels.LANGUAGE] == run_in(engine, rt.image, "python3.9", "--version")
        assert images.labels.match(rt, built.labels[images.labels.LANGUAGE], "online") == "exact"
        assert any("docker build FROM fc-emulator/python3.9:latest" in line for line in lines), lines
    finally:
        engine.images.remove(rt.image, force=True)
