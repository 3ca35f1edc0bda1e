"""Faults an outside probe found in the store's handling (issue #24): a catalog this process
cannot open is not damaged and `check --repair` leaves it alone; read-only stores and full disks
are one line each; a huge file is refused from its size before a byte is read; paths are printed
with control and bidi characters escaped; a headline's script is no part of its title.

Real stores, the real CLI in subprocesses, run without file access the way a second user is:
as root with the capabilities that bypass file permissions dropped (setpriv), or, for another
user, against a file made unreadable to them.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

from index.html import extract_html

GOOD = ("Harbour Ferry Returns\n\nThe Port Wendle harbour ferry returned to service on Saturday "
        "after a two-year refit, the operator said.\n")
KITES = ("Kite Festival Draws Crowds\n\nThe Carrow kite festival drew 9,300 visitors on Sunday, "
         "the organisers said.\n")
NOTICE = ("Library Hours Extended\n\nThe Carrow library will open until nine on weekdays from "
          "March, the council said.\n")
IS_ROOT = os.geteuid() == 0
# Root reads any file through these two capabilities; without them it is held to the file's
# owner and mode like anyone else.
NO_DAC = ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
          "--bounding-set=-dac_override,-dac_read_search"]
OTHER_UID = 65534  # nobody


def _store(tmp_path: Path, *texts: str) -> Path:
    folder = tmp_path / "news"
    folder.mkdir()
    for number, text in enumerate(texts):
        (folder / f"story-{number}.txt").write_text(text, encoding="utf-8")
    store = tmp_path / "store"
    result = run_cli("ingest", str(folder), "--store", str(store))
    assert result.returncode == 0 and f"added {len(texts)}," in result.stdout, result.stderr
    return store


def _errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    return result.stderr.strip().splitlines()


def _lock_out(catalog: Path) -> None:
    """Make the catalog (and its WAL files) unreadable to the runs made with _without_access."""
    for file in [catalog, *(Path(f"{catalog}{s}") for s in ("-wal", "-shm"))]:
        if not file.exists():
            continue
        if IS_ROOT:
            os.chown(file, OTHER_UID, OTHER_UID)
            file.chmod(0o600)
        else:
            file.chmod(0o000)


def _let_in(catalog: Path) -> None:
    for file in [catalog, *(Path(f"{catalog}{s}") for s in ("-wal", "-shm"))]:
        if file.exists():
            if IS_ROOT:
                os.chown(file, 0, 0)
            file.chmod(0o644)


def _without_access(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m assistant ARGS` as a user the locked-out catalog does not let in."""
    prefix = NO_DAC if IS_ROOT else []
    return subprocess.run([*prefix, sys.executable, "-m", "assistant", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=timeout)


@pytest.fixture
def no_access() -> None:
    if IS_ROOT and shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is needed to run without root's file access")


def _unchanged(store: Path, articles: int) -> None:
    """The store still holds everything: its catalog in place, every article and vector."""
    assert not list(store.glob("catalog.sqlite.damaged-*")), "the catalog was set aside"
    sources = run_cli("sources", "--store", str(store))
    assert sources.returncode == 0, sources.stderr
    assert len(sources.stdout.strip().splitlines()) == articles, sources.stdout
    checked = run_cli("check", "--store", str(store))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"{articles} articles" in checked.stdout and " 0 missing, 0 orphaned" in checked.stdout


def test_a_catalog_that_cannot_be_opened_is_not_damaged_and_repair_leaves_it(
        tmp_path: Path, no_access: None) -> None:
    store = _store(tmp_path, GOOD, KITES)
    catalog = store / "catalog.sqlite"
    _lock_out(catalog)
    try:
        for args in (["check"], ["sources"], ["ask", "When did the ferry return?"]):
            result = _without_access(*args, "--store", str(store))
            assert result.returncode == 1, result.stdout + result.stderr
            assert _errors(result) == [
                f"error: cannot open the catalog at {catalog} (unable to open database file; it "
                "cannot be read: permission denied); check the owner, permissions and read-only "
                "flags of the store"], (args, result.stdout, result.stderr)
            assert "damaged" not in result.stdout + result.stderr

        repair = _without_access("check", "--repair", "--store", str(store))
        assert repair.returncode == 1, repair.stdout + repair.stderr
        lines = _errors(repair)
        assert len(lines) == 1 and lines[0].startswith(
            "error: --repair refused, nothing was changed: cannot open the catalog at"), lines
        assert "permission denied" in lines[0] and "repair:" not in repair.stdout
    finally:
        _let_in(catalog)
    _unchanged(store, 2)


def _immutable(store: Path, on: bool) -> bool:
    flag = "+i" if on else "-i"
    result = subprocess.run(["chattr", "-R", flag, str(store)], capture_output=True, text=True)
    return result.returncode == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_read_only_store_gives_one_line_errors_and_stays_whole(tmp_path: Path) -> None:
    store = _store(tmp_path, GOOD)
    if shutil.which("chattr") is None or not _immutable(store, True):
        _immutable(store, False)
        pytest.skip("chattr +i is not available here (needs root and a filesystem with "
                    "the immutable flag, such as ext4 or xfs)")
    try:
        runs = {"check": run_cli("check", "--store", str(store)),
                "check --repair": run_cli("check", "--repair", "--store", str(store)),
                "sources": run_cli("sources", "--store", str(store)),
                "serve": run_cli("serve", "--store", str(store), "--port", str(_free_port()),
                                 timeout=180)}
    finally:
        _immutable(store, False)
    for name, result in runs.items():
        lines = _errors(result)
        assert result.returncode == 1, (name, result.stdout, result.stderr)
        assert len(lines) == 1 and lines[0].startswith("error: "), (name, result.stderr)
        assert "Traceback" not in result.stderr and "damaged" not in result.stdout + lines[0]
        assert "immutable or read-only" in lines[0] or "not writable" in lines[0], lines[0]
    assert runs["check --repair"].stderr.startswith("error: --repair refused, nothing was changed")
    _unchanged(store, 1)


def test_repair_keeps_a_damaged_catalog_and_the_vectors_it_may_own(tmp_path: Path) -> None:
    store = _store(tmp_path, GOOD, KITES)
    catalog = store / "catalog.sqlite"
    for suffix in ("-wal", "-shm"):
        Path(f"{catalog}{suffix}").unlink(missing_ok=True)
    catalog.write_bytes(catalog.read_bytes()[:6000])  # half a file: pages lost

    checked = run_cli("check", "--store", str(store))
    assert checked.returncode == 1 and "the catalog is damaged" in checked.stdout
    for _ in range(2):  # a second repair keeps them too
        repaired = run_cli("check", "--repair", "--store", str(store))
        assert repaired.returncode == 0, repaired.stderr
        assert "deleted" not in repaired.stdout, repaired.stdout
        assert "2 vectors" in repaired.stdout and "2 orphaned" in repaired.stdout, repaired.stdout
        assert "kept 2 orphaned vectors" in repaired.stdout, repaired.stdout
    aside = list(store.glob("catalog.sqlite.damaged-*"))
    assert [p.name for p in aside if not p.name.endswith(("-wal", "-shm"))], aside
    # The one-line report of damage says what SQLite found.
    assert checked.stdout.strip() == ("check: the catalog is damaged (database disk image is "
                                      "malformed); run `assistant check --repair`")

    # A pruning ingest of something else keeps them too.
    other = tmp_path / "other"
    other.mkdir()
    (other / "library.txt").write_text(NOTICE, encoding="utf-8")
    pruned = run_cli("ingest", str(other), "--prune", "--store", str(store))
    assert "added 1," in pruned.stdout, pruned.stdout + pruned.stderr
    kept = run_cli("check", "--store", str(store))
    assert "1 articles, 1 chunks, 3 vectors: 0 missing, 2 orphaned" in kept.stdout, kept.stdout

    # Ingesting the articles again rewrites the same vector ids: nothing orphaned is left.
    again = run_cli("ingest", str(tmp_path / "news"), "--store", str(store))
    assert "added 2," in again.stdout, again.stdout + again.stderr
    final = run_cli("check", "--store", str(store))
    assert final.returncode == 0, final.stdout
    assert "3 articles, 3 chunks, 3 vectors: 0 missing, 0 orphaned" in final.stdout


@pytest.mark.server
def test_a_damaged_cache_goes_only_once_its_rebuild_matches_the_server(
        tmp_path: Path, chroma_server: str) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "one.txt").write_text(GOOD, encoding="utf-8")
    store = tmp_path / "cache"
    env = {"ASSISTANT_COLLECTION": f"probe-{os.getpid()}-{tmp_path.name[-8:]}"}
    args = ["--store", str(store), "--chroma-url", chroma_server]
    assert run_cli("ingest", str(folder), *args, env=env).returncode == 0
    catalog = store / f"catalog-{env['ASSISTANT_COLLECTION']}.sqlite"
    for suffix in ("-wal", "-shm"):
        Path(f"{catalog}{suffix}").unlink(missing_ok=True)
    catalog.write_bytes(b"not a database at all, " * 400)

    repaired = run_cli("check", "--repair", *args, env=env)
    assert repaired.returncode == 0, repaired.stderr
    assert "rebuilt it from the server" in repaired.stdout, repaired.stdout
    assert "the rebuilt cache matches the server; deleted" in repaired.stdout, repaired.stdout
    assert not list(store.glob("*.damaged-*"))
    assert "Harbour Ferry Returns" in run_cli("sources", *args, env=env).stdout


def _in_own_mounts(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A shell script in a mount namespace of its own, so its tmpfs mounts vanish with it."""
    return subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **env, "PYTHON": sys.executable},
                          timeout=300)


def _can_mount_tmpfs(tmp_path: Path) -> bool:
    if not IS_ROOT or shutil.which("unshare") is None:
        return False
    probe = tmp_path / "mount-probe"
    probe.mkdir()
    return _in_own_mounts(f"mount -t tmpfs -o size=1m tmpfs '{probe}'", {}).returncode == 0


@pytest.mark.parametrize("full", ["store", "chroma"])
def test_a_full_disk_is_named_and_loses_nothing(tmp_path: Path, full: str) -> None:
    """The whole store on a full disk (SQLite fails first), or only its chroma/ folder (Chroma
    fails): either way one line that says the disk is full, not "damaged"."""
    if not _can_mount_tmpfs(tmp_path):
        pytest.skip("needs root and `unshare -m` to mount a small tmpfs to fill")
    (tmp_path / "one.txt").write_text(GOOD, encoding="utf-8")
    (tmp_path / "two.txt").write_text(KITES, encoding="utf-8")
    store = tmp_path / "store"
    disk = store if full == "store" else store / "chroma"
    disk.mkdir(parents=True)
    script = """
        set -u
        mount -t tmpfs -o size=30m tmpfs "$DISK" || exit 90
        "$PYTHON" -m assistant ingest "$DIR/one.txt" --store "$STORE" >/dev/null || exit 91
        dd if=/dev/zero of="$DISK/filler" bs=64k 2>/dev/null
        "$PYTHON" -m assistant ingest "$DIR/two.txt" --store "$STORE" 2>"$DIR/full.err"
        echo "rc=$?" >"$DIR/full.rc"
        rm "$DISK/filler"
        "$PYTHON" -m assistant sources --store "$STORE"
    """
    result = _in_own_mounts(script, {"DISK": str(disk), "DIR": str(tmp_path),
                                     "STORE": str(store)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "full.rc").read_text().strip() == "rc=1"
    lines = (tmp_path / "full.err").read_text().strip().splitlines()
    assert len(lines) == 1 and "the disk is full" in lines[0], lines
    assert "damaged" not in lines[0] and "--repair" not in lines[0], lines[0]
    assert "Harbour Ferry Returns" in result.stdout, result.stdout  # nothing indexed is lost


# Runs the CLI as its child and reports the child's peak resident memory (kB on Linux): the
# test process's own RUSAGE_CHILDREN would also count every earlier test's subprocesses.
_PEAK_OF_CHILD = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"rc": done.returncode, "stdout": done.stdout, "stderr": done.stderr,
                  "peak_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def test_a_huge_sparse_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "good.txt").write_text(GOOD, encoding="utf-8")
    huge = folder / "huge.txt"
    feed = tmp_path / "huge-feed.xml"
    for sparse in (huge, feed):
        with sparse.open("wb") as handle:
            handle.truncate(1 << 30)  # 1 GiB that reads as zeros and takes no disk
    store = tmp_path / "store"
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_OF_CHILD, sys.executable, "-m", "assistant", "ingest",
         str(folder), "--feed", str(feed), "--store", str(store)],
        capture_output=True, text=True, cwd=ROOT, timeout=300)
    report = json.loads(done.stdout)
    lines = report["stderr"].strip().splitlines()
    assert report["rc"] == 0, report["stderr"]
    peak_mb = report["peak_kb"] / 1024
    assert peak_mb < 600, f"ingest peaked at {peak_mb:.0f} MB"
    assert sorted(lines) == sorted([
        f"error: {huge}: file is 1073.7 MB, over the 50 MB limit (ASSISTANT_MAX_FILE_MB)",
        f"error: {feed}: feed file is larger than 10000000 bytes"]), lines
    assert "added 1," in report["stdout"], report["stdout"]


def test_paths_are_printed_with_control_and_bidi_characters_escaped(
        tmp_path: Path, no_access: None) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    # A name that would forge a line of output, and one that shows reversed ("...gpj.txt").
    forged = folder / "empty\nerror: all is well.txt"
    forged.write_text("", encoding="utf-8")
    (folder / "holiday\u202egpj.txt").write_text(GOOD, encoding="utf-8")
    store = tmp_path / "store\u2066\nx"
    ingest = run_cli("ingest", str(folder), "--store", str(store))
    assert ingest.returncode == 0, ingest.stderr
    assert _errors(ingest) == [f"error: {folder}/empty\\nerror: all is well.txt: file is empty"]

    sources = run_cli("sources", "--store", str(store))
    assert len(sources.stdout.strip().splitlines()) == 1, sources.stdout
    assert f"({folder}/holiday\\u202egpj.txt)" in sources.stdout, sources.stdout

    catalog = store / "catalog.sqlite"
    _lock_out(catalog)
    try:
        check = _without_access("check", "--store", str(store))
    finally:
        _let_in(catalog)
    shown = str(catalog).replace("\u2066", "\\u2066").replace("\n", "\\n")
    assert _errors(check) == [
        f"error: cannot open the catalog at {shown} (unable to open database file; it cannot "
        "be read: permission denied); check the owner, permissions and read-only flags of the "
        "store"], check.stderr
    for output in (ingest.stdout + ingest.stderr, sources.stdout, check.stderr):
        assert not {"\u202e", "\u2066"} & set(output)


@pytest.mark.parametrize("inside", [True, False])
def test_a_headline_is_text_only(inside: bool) -> None:
    body = "<p>" + "The council approved the harbour wall on Tuesday after a debate. " * 4 + "</p>"
    headline = ("<h1>Harbour Wall <script>var tracker = 'SCRIPTTEXT';</script>Approved"
                "<style>.x{color:red}</style><noscript>Enable JavaScript</noscript></h1>")
    page = (f"<html><head><title>Site</title></head><body><article>{headline}{body}</article>"
            "</body></html>" if inside else
            f"<html><body><div>{headline}</div>{body}{body}</body></html>")
    article = extract_html(page)
    assert article.title == "Harbour Wall Approved"
    assert "SCRIPTTEXT" not in article.text and "color" not in article.text
    assert "council approved" in article.text


def test_a_damaged_state_file_is_made_anew_and_the_catalog_is_not_blamed(tmp_path: Path) -> None:
    # state.sqlite holds only the writers' lease and the change token. Overwritten, it was
    # reported as a damaged *catalog*, and `check --repair` failed the same way, so the store
    # could not be used at all.
    store = _store(tmp_path, GOOD, KITES)
    (store / "state.sqlite").write_bytes(os.urandom(20480))
    answer = run_cli("ask", "When did the ferry return?", "--store", str(store))
    assert answer.returncode == 0, answer.stderr
    assert "Saturday" in answer.stdout
    warnings = _errors(answer)
    assert len(warnings) == 1 and "state file" in warnings[0] and "made anew" in warnings[0]
    assert "catalog" not in warnings[0]
    assert len(list(store.glob("state.sqlite.damaged-*"))) == 1
    _unchanged(store, 2)


def test_a_store_without_its_vectors_says_so_and_repair_shows_the_store_after(
        tmp_path: Path) -> None:
    # With chroma/ deleted, answers came from keyword search alone and nothing said so; and
    # `check --repair` printed "rebuilt 2 vectors" then "2 missing" (the check from before).
    store = _store(tmp_path, GOOD, KITES)
    shutil.rmtree(store / "chroma")
    answer = run_cli("ask", "When did the ferry return?", "--store", str(store))
    assert answer.returncode == 0 and "Saturday" in answer.stdout, answer.stderr
    assert any("no vectors" in line and "check --repair" in line for line in _errors(answer))
    repair = run_cli("check", "--repair", "--store", str(store))
    lines = repair.stdout.strip().splitlines()
    assert lines[0].startswith("repair: rebuilt 2 vectors"), lines
    assert lines[1].startswith("check before repair:") and "2 missing" in lines[1], lines
    assert lines[2].startswith("check:") and "0 missing" in lines[2], lines
    quiet = run_cli("ask", "When did the ferry return?", "--store", str(store))
    assert "no vectors" not in quiet.stderr


def test_a_repair_that_leaves_a_problem_behind_exits_1(tmp_path: Path) -> None:
    # `check --repair` exited 0 whatever the check after it found (outside probe: with a vector
    # it had written left orphaned). Here, what no repair mends: a store built with another
    # embedder. What a repair keeps on purpose (test_repair_keeps_a_damaged_catalog_...) is 0.
    import sqlite3

    store = _store(tmp_path, GOOD)
    with sqlite3.connect(store / "catalog.sqlite") as db:
        db.execute("UPDATE meta SET value='another-model' WHERE key='embedder'")
    repaired = run_cli("check", "--repair", "--store", str(store))
    assert repaired.returncode == 1, repaired.stdout + repaired.stderr
    assert repaired.stdout.strip().splitlines()[-1].endswith(
        "; built with embedder 'another-model', not the configured one"), repaired.stdout
