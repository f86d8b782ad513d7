"""Generated documentation matches the binary it documents."""
import subprocess

from conftest import REPO, sluice_bin


def test_config_md_is_what_config_keys_prints():
    # docs/CONFIG.md = a short header, then the table `sluice config keys`
    # prints; regenerate it with that command when a key changes.
    out = subprocess.run([sluice_bin(), "config", "keys"], capture_output=True, text=True, timeout=30, check=True)
    doc = (REPO / "docs" / "CONFIG.md").read_text()
    assert doc.endswith(out.stdout), "docs/CONFIG.md is stale: regenerate it with `sluice config keys`"
    assert out.stdout.count("\n| `") > 20
