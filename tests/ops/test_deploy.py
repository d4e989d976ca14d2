"""The shipped deploy/ files pass their tools: promtool check rules and the rule unit tests,
systemd-analyze verify on the units, nginx -t on the site (with a throw-away certificate).
Missing tools skip, unless KOSH_TEST_REQUIRE_SERVICES=1 (CI installs them in .ci/run)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
REQUIRED = os.environ.get("KOSH_TEST_REQUIRE_SERVICES") == "1"


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if found is None:
        message = f"{name} is not installed"
        if REQUIRED:
            pytest.fail(message + " (KOSH_TEST_REQUIRE_SERVICES=1)", pytrace=False)
        pytest.skip(message)
    return found


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own arguments
        list(args), cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_prometheus_rules_are_valid_and_their_unit_tests_pass() -> None:
    promtool = _tool("promtool")
    checked = _run(promtool, "check", "rules", str(DEPLOY / "prometheus" / "kosh-rules.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout
    tested = _run(promtool, "test", "rules", "kosh-rules.test.yml", cwd=DEPLOY / "prometheus")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    rules = (DEPLOY / "prometheus" / "kosh-rules.yml").read_text()
    for alert in (
        "KoshHigh5xxRate",
        "KoshSlowRequests",
        "KoshNotReady",
        "KoshLedgerDrift",
        "KoshWebOrdersStale",
        "KoshWebOrdersFailed",
        "KoshWorkerDown",
        "KoshBackupStale",
        "KoshDiskLow",
    ):
        assert f"alert: {alert}" in rules


def test_systemd_units_verify(tmp_path: Path) -> None:
    analyze = _tool("systemd-analyze")
    venv = Path(sys.executable).parent.parent
    for unit in ("kosh.service", "kosh-worker.service"):
        text = (DEPLOY / "systemd" / unit).read_text()
        assert "/opt/kosh/.venv/bin/" in text
        # the paths of this checkout, so the ExecStart programs exist where verify looks
        local = text.replace("/opt/kosh/.venv", str(venv)).replace("/opt/kosh", str(ROOT))
        (tmp_path / unit).write_text(local)
    result = _run(
        analyze, "verify", str(tmp_path / "kosh.service"), str(tmp_path / "kosh-worker.service")
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "kosh.service" not in result.stderr, result.stderr


def _self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kosh.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_nginx_site_passes_nginx_t(tmp_path: Path) -> None:
    nginx = _tool("nginx")
    cert, key = _self_signed(tmp_path)
    site = (DEPLOY / "nginx" / "kosh.conf").read_text()
    assert "client_max_body_size" in site
    assert "X-Forwarded-Proto" in site
    site = site.replace("/etc/ssl/kosh/fullchain.pem", str(cert)).replace(
        "/etc/ssl/kosh/privkey.pem", str(key)
    )
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "logs").mkdir()
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/logs/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  include {tmp_path}/site.conf;\n}}\n"
    )
    result = _run(
        nginx,
        "-t",
        "-q",
        "-e",
        str(tmp_path / "logs" / "error.log"),
        "-p",
        str(tmp_path),
        "-c",
        str(tmp_path / "nginx.conf"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
