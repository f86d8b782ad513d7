"""Bad command-line input gets a message and a non-zero exit code, never an uncaught exception."""
import os
import subprocess

import pytest

from conftest import MOTO, free_port, sluice_bin

pytestmark = pytest.mark.skipif(MOTO, reason="Sluice's own command line")


def run(*args, timeout=60):
    env = dict(os.environ, SLUICE_ROOT_USER="cliadmin", SLUICE_ROOT_PASSWORD="cli-password-1")
    return subprocess.run([sluice_bin(), *args], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:abc", "http://127.0.0.1:99999", "http://127.0.0.1:",
                                      "http://127.0.0.1:0"])
def test_admin_rejects_a_bad_endpoint_port(endpoint):
    p = run("admin", "--endpoint", endpoint, "info")
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "the port must be a number from 1 to 65535" in p.stderr, p.stderr
    assert "terminate" not in p.stderr


@pytest.mark.parametrize("size", [".", "1.2.3", "99999999999999999999 TiB"])
def test_server_refuses_a_bad_size_setting(tmp_path, size):
    p = run("server", str(tmp_path / "data"), "--override", f"s3.wal.capacity={size}",
            "--override", f"s3.listeners=127.0.0.1:{free_port()}",
            "--override", f"listeners=PLAINTEXT://127.0.0.1:{free_port()}")
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "s3.wal.capacity" in p.stdout + p.stderr
    assert "terminate" not in p.stderr
