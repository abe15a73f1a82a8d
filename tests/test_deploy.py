"""deploy/: the image installs what CI installs, and each file passes its own validator.

The image cannot be built here (no Docker engine), so its steps are compared with `.ci/run`'s,
which CI runs. The nginx site goes through the real `nginx -t` and then serves for real on
loopback ports; the systemd units through `systemd-analyze verify`. Without those tools (a fresh
development machine) their tests skip, saying what to install; .ci/run installs them and sets
ZTC_DEPLOY_VALIDATORS=required, so there a missing validator fails instead of skipping.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import http.client
import http.server
import os
import pwd
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from bot.cli import main as ztc

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
ROLES = {"web", "worker", "cron", "migrate"}
# Installed by .ci/run for the tests only, never needed in the image.
CI_ONLY_PACKAGES = {
    "nginx": "the validator of deploy/nginx/ztc.conf (nginx runs on the host, not in the image)",
    "systemd": "systemd-analyze, the validator of deploy/systemd/ (the image has no systemd)",
    "chromium": "the browser of tests/browser/ (headless, driven by Selenium)",
    "chromium-driver": "chromedriver, through which tests/browser/ drive chromium",
}


def _validator(name: str, install: str) -> str:
    """The tool's path; without it skip (a development machine) or fail (CI requires it)."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if path:
        return path
    reason = f"{name} is not installed ({install}); CI installs it (.ci/run)"
    if os.environ.get("ZTC_DEPLOY_VALIDATORS") == "required":
        pytest.fail(reason)
    pytest.skip(reason)


def _ztc_command(argv: list[str]) -> click.Command:
    """The `ztc` command that argv names, with its options parsed (a usage error raises)."""
    command: click.Command = ztc
    rest = list(argv)
    while isinstance(command, click.Group):
        assert rest, f"{argv}: names a group of ztc commands, not a command"
        name = rest.pop(0)
        assert name in command.commands, f"{argv}: ztc has no command {name!r}"
        command = command.commands[name]
    command.make_context(command.name, rest)
    return command


# --- the image against .ci/run ------------------------------------------------------------------


def _dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    text = (DEPLOY / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    instructions = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, args = line.strip().partition(" ")
            instructions.append((keyword.upper(), args.strip()))
    return instructions


def _apt_packages(shell_text: str) -> set[str]:
    """The packages every `apt-get install` in a piece of shell installs."""
    packages: set[str] = set()
    for match in re.finditer(r"apt-get install ([^\n&|;>]*)", shell_text):
        packages |= {word for word in shlex.split(match.group(1)) if not word.startswith("-")}
    return packages


def _image_runs() -> str:
    return "\n".join(args for keyword, args in _dockerfile() if keyword == "RUN")


def test_the_image_installs_every_apt_package_ci_installs() -> None:
    ci = _apt_packages((ROOT / ".ci" / "run").read_text())
    image = _apt_packages(_image_runs())
    assert "fonts-noto-cjk" in ci & image  # the digest charts' Chinese font, in both
    assert set(CI_ONLY_PACKAGES) <= ci, "CI_ONLY_PACKAGES names a package .ci/run no longer installs"
    missing = ci - set(CI_ONLY_PACKAGES) - image
    assert not missing, f".ci/run installs {sorted(missing)}, deploy/Dockerfile does not"


def test_the_image_runs_the_python_the_code_is_checked_for() -> None:
    (base,) = [args for keyword, args in _dockerfile() if keyword == "FROM"]
    image_python = re.fullmatch(r"python:(\d+\.\d+)[-\w.]*", base)
    assert image_python, f"unexpected base image {base}"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert image_python.group(1) == pyproject["tool"]["mypy"]["python_version"]
    assert pyproject["project"]["requires-python"] == f">={image_python.group(1)}"


def test_the_image_copies_every_package_before_pip_installs_the_project() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {
        path.name
        for path in ROOT.iterdir()
        if (path / "__init__.py").exists() and any(fnmatch.fnmatch(path.name, p) for p in patterns)
    }
    assert {"bot", "handlers", "jobs"} <= packages
    instructions = _dockerfile()
    pip_at = next(i for i, (k, args) in enumerate(instructions) if k == "RUN" and "pip install" in args)
    pip_words = shlex.split(instructions[pip_at][1].split("&&")[0])
    assert pip_words[-1] == ".", "the image installs the project itself (as .ci/run, without [dev])"
    copied: set[str] = set()
    for keyword, args in instructions[:pip_at]:
        if keyword == "COPY":
            *sources, _destination = args.split()
            copied |= {source.rstrip("/") for source in sources}
    needed = packages | {"pyproject.toml", pyproject["project"]["readme"]}
    assert needed <= copied, f"deploy/Dockerfile does not copy {sorted(needed - copied)} before pip install"


def test_the_image_enters_through_the_entrypoint_and_defaults_to_web() -> None:
    instructions = dict(_dockerfile())
    copies = [args.split() for keyword, args in _dockerfile() if keyword == "COPY"]
    assert ["deploy/entrypoint.sh", "/usr/local/bin/ztc-entrypoint"] in copies
    assert instructions["ENTRYPOINT"] == '["ztc-entrypoint"]'
    assert instructions["CMD"] == '["web"]'
    assert os.access(DEPLOY / "entrypoint.sh", os.X_OK), "COPY keeps the mode: the script must be executable"


# --- the entry point's roles --------------------------------------------------------------------


def _run_entrypoint(tmp_path: Path, args: list[str], env: dict[str, str] | None = None) -> list[str]:
    """Run deploy/entrypoint.sh with a stand-in `ztc` first on PATH; the argv it received."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "ztc"
    fake.write_text('#!/bin/sh\nprintf "%s\\0" "$@" > "$ZTC_ARGV_FILE"\n')
    fake.chmod(0o755)
    argv_file = tmp_path / "argv"
    argv_file.unlink(missing_ok=True)
    run_env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "ZTC_ARGV_FILE": str(argv_file), **(env or {})}
    subprocess.run([DEPLOY / "entrypoint.sh", *args], env=run_env, check=True, timeout=10)
    return argv_file.read_bytes().decode().split("\0")[:-1]


def test_the_entrypoint_has_exactly_the_four_roles() -> None:
    labels = re.findall(r"^\s*([\w*]+)\)", (DEPLOY / "entrypoint.sh").read_text(), re.MULTILINE)
    assert set(labels) - {"*"} == ROLES


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ([], {}, ["web", "--host", "0.0.0.0", "--port", "8400", "--workers", "2"]),
        (
            ["web"],
            {"PORT": "9000", "WEB_WORKERS": "6"},
            ["web", "--host", "0.0.0.0", "--port", "9000", "--workers", "6"],
        ),
        (["worker"], {}, ["worker"]),
        (["worker", "--fork"], {}, ["worker", "--fork"]),
        (["cron"], {}, ["cron"]),
        (["migrate"], {}, ["db", "upgrade"]),
        (["outbox", "failed"], {}, ["outbox", "failed"]),  # a one-off command passes through
    ],
)
def test_each_role_runs_its_ztc_command(
    tmp_path: Path, args: list[str], env: dict[str, str], expected: list[str]
) -> None:
    argv = _run_entrypoint(tmp_path, args, env)
    assert argv == expected
    _ztc_command(argv)  # and ztc accepts it: a renamed command or option fails here, not in production


# --- compose ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def _app_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run the image (its role is their command)."""
    return {name: s for name, s in compose["services"].items() if s.get("image", "").startswith("zhitongche")}


def test_compose_runs_each_role_through_the_entrypoint(compose: dict[str, Any]) -> None:
    services = _app_services(compose)
    roles = {name: s["command"][0] for name, s in services.items()}
    assert set(roles.values()) == ROLES
    assert [name for name, role in roles.items() if role == "cron"] == ["cron"]
    assert compose["services"]["cron"].get("deploy", {}).get("replicas", 1) == 1, "exactly one cron"
    for name, service in services.items():
        assert service["build"]["dockerfile"] == "deploy/Dockerfile", name
        assert "redis://redis:" in service["environment"]["REDIS_URL"], name
        assert "@postgres:5432/" in service["environment"]["DATABASE_URL"], name


def test_compose_shares_the_var_dir_and_migrates_first(compose: dict[str, Any]) -> None:
    services = _app_services(compose)
    migrate = services["migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker", "cron"):
        service = services[name]
        var_dir = service["environment"]["ZTC_VAR_DIR"]
        assert f"ztcvar:{var_dir}" in service["volumes"], f"{name} must see the shared ZTC_VAR_DIR"
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
    assert "ztcvar" in compose["volumes"]


def test_compose_web_is_local_only_and_checks_readiness(compose: dict[str, Any]) -> None:
    web = compose["services"]["web"]
    assert all(port.startswith("127.0.0.1:") for port in web["ports"]), "nginx is the only way in"
    assert any("/readyz" in part for part in web["healthcheck"]["test"])
    worker = compose["services"]["worker"]
    assert int(worker["stop_grace_period"].rstrip("s")) >= 30, "RQ finishes the job in hand"


# --- systemd ------------------------------------------------------------------------------------

UNITS = ["ztc-web.service", "ztc-worker@.service", "ztc-cron.service", "ztc-migrate.service"]
VENV_ZTC = "/opt/ztc/.venv/bin/ztc"


def _exec_start(unit: str) -> list[str]:
    (line,) = re.findall(r"^ExecStart=(.*)$", (DEPLOY / "systemd" / unit).read_text(), re.MULTILINE)
    return shlex.split(line)


def test_the_units_run_ztc_commands_and_web_listens_where_nginx_proxies() -> None:
    assert sorted(p.name for p in (DEPLOY / "systemd").iterdir()) == sorted(UNITS)
    for unit in UNITS:
        argv = _exec_start(unit)
        assert argv[0] == VENV_ZTC, unit
        _ztc_command(argv[1:])
    web = _exec_start("ztc-web.service")
    listen = f"{web[web.index('--host') + 1]}:{web[web.index('--port') + 1]}"
    site = (DEPLOY / "nginx" / "ztc.conf").read_text()
    assert re.search(rf"^\s*server {re.escape(listen)}\b", site, re.MULTILINE), "nginx's upstream is ztc-web"


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    analyze = _validator("systemd-analyze", "apt-get install systemd")
    # verify insists that ExecStart's binary exists: point the units at a stub in the temp dir.
    stub = tmp_path / "ztc"
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    for unit in UNITS:
        text = (DEPLOY / "systemd" / unit).read_text()
        assert VENV_ZTC in text, unit
        (tmp_path / unit).write_text(text.replace(VENV_ZTC, str(stub)))
    names = [unit.replace("@.", "@1.") for unit in UNITS]  # a template is verified as an instance
    result = subprocess.run(
        [analyze, "verify", "--man=no", "--recursive-errors=no", *names],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # Only our units count: the machine's own units may warn about themselves.
    ours = [line for line in (result.stdout + result.stderr).splitlines() if "ztc" in line]
    assert result.returncode == 0 and not ours, result.stdout + result.stderr


# --- nginx --------------------------------------------------------------------------------------

SITE_CERT = "/etc/ssl/ztc/fullchain.pem"
SITE_KEY = "/etc/ssl/ztc/privkey.pem"


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate and key for the site's ssl_certificate paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ztc.example.gov.cn")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"deploy/nginx/ztc.conf no longer has exactly one {old!r}"
    return text.replace(old, new)


def _site_on(https_port: int, http_port: int) -> str:
    """The site listening on loopback ports: even `nginx -t` binds its ports (443 needs root)."""
    site = (DEPLOY / "nginx" / "ztc.conf").read_text()
    site = _replace_once(site, "listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
    return _replace_once(site, "listen 80;", f"listen 127.0.0.1:{http_port};")


def _nginx_conf(prefix: Path, site: str) -> Path:
    """The site, its certificates swapped for temporary ones, in a minimal nginx.conf under prefix."""
    cert, key = _self_signed(prefix)
    site = _replace_once(_replace_once(site, SITE_CERT, str(cert)), SITE_KEY, str(key))
    (prefix / "ztc.conf").write_text(site)
    # As root nginx's workers would switch to `nobody`, who cannot enter pytest's temp dirs.
    user = f"user {pwd.getpwuid(0).pw_name};" if os.geteuid() == 0 else ""
    temp_paths = "\n".join(
        f"    {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"{user}\npid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'};\n"
        f"events {{ worker_connections 64; }}\n"
        f"http {{\n    access_log off;\n{temp_paths}\n    include {prefix / 'ztc.conf'};\n}}\n"
    )
    return conf


def _nginx_args(nginx: str, prefix: Path, conf: Path) -> list[str]:
    return [nginx, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]


def test_nginx_accepts_the_site(tmp_path: Path) -> None:
    nginx = _validator("nginx", "apt-get install nginx")
    conf = _nginx_conf(tmp_path, _site_on(_free_port(), _free_port()))
    result = subprocess.run([*_nginx_args(nginx, tmp_path, conf), "-t"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    assert "[warn]" not in result.stderr, result.stderr


class _App(http.server.BaseHTTPRequestHandler):
    """The web process's stand-in: answers 200 and records what nginx passed on."""

    seen: list[tuple[str, str, int]]

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.seen.append((self.command, self.path, length))
        body = f"app:{self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, int, list[tuple[str, str, int]]]]:
    """nginx with the site on loopback ports in front of a stand-in app: (https, http, requests seen)."""
    nginx = _validator("nginx", "apt-get install nginx")
    seen: list[tuple[str, str, int]] = []
    handler = type("App", (_App,), {"seen": seen})
    app = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    https_port, http_port = _free_port(), _free_port()
    site = _site_on(https_port, http_port)
    site = _replace_once(site, "server 127.0.0.1:8400 ", f"server 127.0.0.1:{app.server_address[1]} ")
    conf = _nginx_conf(tmp_path, site)
    proc = subprocess.Popen([*_nginx_args(nginx, tmp_path, conf), "-g", "daemon off;"])
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
                break
            except OSError:
                log = (tmp_path / "error.log").read_text() if (tmp_path / "error.log").exists() else ""
                assert proc.poll() is None and time.monotonic() < deadline, f"nginx did not start: {log}"
                time.sleep(0.05)
        yield https_port, http_port, seen
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        app.shutdown()
        app.server_close()


def _request(
    port: int, method: str, path: str, body: bytes = b"", *, source: str = "127.0.0.1", tls: bool = True
) -> http.client.HTTPResponse:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the throwaway self-signed certificate
    conn: http.client.HTTPConnection
    if tls:
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, source_address=(source, 0))
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, source_address=(source, 0))
    conn.request(method, path, body=body, headers={"Host": "ztc.example.gov.cn"})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_nginx_passes_the_callbacks_and_refuses_bodies_over_64k(served: tuple[int, int, list[Any]]) -> None:
    port, _, seen = served
    path = "/wecom/callback?msg_signature=s&timestamp=1&nonce=n"
    assert _request(port, "POST", path, b"x" * 1000).status == 200
    assert _request(port, "POST", "/wecom/aibot?msg_signature=s", b"{}").status == 200
    assert _request(port, "POST", path, b"x" * 65536).status == 200  # ZTC_MAX_BODY_BYTES' default: let in
    assert seen == [("POST", path, 1000), ("POST", "/wecom/aibot?msg_signature=s", 2), ("POST", path, 65536)]
    assert _request(port, "POST", path, b"x" * 65537).status == 413
    assert len(seen) == 3, "a refused body never reaches the app"


def test_nginx_answers_404_for_every_other_path(served: tuple[int, int, list[Any]]) -> None:
    port, _, seen = served
    for path in ("/", "/admin", "/wecom/callbackx", "/wecom/callback/x", "/static/x.png", "/healthz/x"):
        assert _request(port, "GET", path).status == 404, path
    assert seen == []


def test_nginx_keeps_health_and_metrics_to_this_host(served: tuple[int, int, list[Any]]) -> None:
    port, _, seen = served
    for path in ("/healthz", "/readyz", "/metrics"):
        assert _request(port, "GET", path, source="127.0.0.2").status == 403, path  # another address
        assert _request(port, "GET", path).status == 200, path
    assert [p for _, p, _ in seen] == ["/healthz", "/readyz", "/metrics"]


def test_nginx_redirects_plain_http_to_https(served: tuple[int, int, list[Any]]) -> None:
    _, http_port, seen = served
    response = _request(http_port, "GET", "/wecom/callback?x=1", tls=False)
    assert response.status == 301
    assert response.getheader("Location") == "https://ztc.example.gov.cn/wecom/callback?x=1"
    assert seen == []
