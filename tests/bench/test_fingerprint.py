from reglab.bench.fingerprint import code_fingerprint, source_fingerprint


def test_the_code_fingerprint_follows_the_sources_that_make_the_numbers(tmp_path):
    (tmp_path / "bench").mkdir()
    (tmp_path / "penalties").mkdir()
    method, cli = tmp_path / "penalties" / "l2.py", tmp_path / "bench" / "cli.py"
    method.write_text("STRENGTH = 1\n")
    cli.write_text("print('hi')\n")
    first = source_fingerprint(tmp_path, "0.1.0")
    assert first.startswith("0.1.0+") and source_fingerprint(tmp_path, "0.1.0") == first
    assert source_fingerprint(tmp_path, "0.2.0") != first
    cli.write_text("print('hello')\n")  # display only: runs stay current
    assert source_fingerprint(tmp_path, "0.1.0") == first
    method.write_text("STRENGTH = 2\n")  # a method fixed: runs made before are stale
    fixed = source_fingerprint(tmp_path, "0.1.0")
    assert fixed != first
    method.rename(tmp_path / "penalties" / "l1.py")  # a renamed file counts too
    assert source_fingerprint(tmp_path, "0.1.0") != fixed


def test_code_fingerprint_is_the_installed_package_s_computed_once():
    import reglab

    version, _, digest = code_fingerprint().partition("+")
    assert version == reglab.__version__ and len(digest) == 16 and int(digest, 16) >= 0
    assert code_fingerprint() is code_fingerprint()  # cached: the sources are hashed once
