"""JupyterHub for a class using mos_lab: an instructor (admin) and students, one server each.

Each user gets one single-user Jupyter server on this machine; each notebook kernel holds
its own mos_lab engine (``mos_lab.session()``), playing to the user's browser by default.
Run from a folder where the hub may keep its database and cookie secret::

    MOS_LAB_HUB_STUDENTS=ana,ben,chloe jupyterhub -f deploy/jupyterhub/jupyterhub_config.py

Everything is set through environment variables (so the same file serves a real class and
the tests in ``tests/unit/hub``):

==============================  ==========================================================
MOS_LAB_HUB_INSTRUCTOR          the instructor's user name (admin of the hub); "instructor"
MOS_LAB_HUB_STUDENTS            names separated by commas, or the path of a file with one
                                name per line; default student01 .. student30
MOS_LAB_HUB_AUTH                "pam" (default: the machine's own accounts, which must
                                exist) or "shared-password" (a demo or a test: everyone
                                logs in with MOS_LAB_HUB_PASSWORD, >= 8 characters, the
                                instructor with MOS_LAB_HUB_ADMIN_PASSWORD, >= 32)
MOS_LAB_HUB_SPAWNER             "local" (default: each user's server runs as their own
                                system account) or "simple" (every server runs as the
                                hub's user, homes under MOS_LAB_HUB_HOME: demo and tests
                                only, users are not isolated from each other)
MOS_LAB_HUB_HOME                homes of the "simple" spawner (default /tmp/mos-lab-hub)
MOS_LAB_HUB_MEM_LIMIT           per process address-space limit of a user's server and
                                kernels (default 4G; "0" turns it off)
MOS_LAB_HUB_CPU_LIMIT           CPUs a user's numba/BLAS pools may use (default 1)
MOS_LAB_HUB_API_TOKEN           if set, a "class-admin" service with this token may start,
                                stop and use users' servers (scripts: start every server
                                before class; the tests)
==============================  ==========================================================

Real authentication: with ``pam`` students log in with their accounts on this machine. For
a university, install an OAuthenticator (``oauthenticator``: GitHub, Google, generic
OAuth2/OIDC, or ``ltiauthenticator`` from the LMS) and set ``c.JupyterHub.authenticator_class``
and its client id/secret below this file's settings; keep ``admin_users`` and
``allowed_users`` as they are here. Serve over HTTPS (``c.JupyterHub.ssl_cert``/``ssl_key``
or a reverse proxy): the shared password and session cookies must not travel in clear.

Limits: the local spawners cannot enforce a memory limit on a process tree (that needs
cgroups: ``systemdspawner``'s ``mem_limit``/``cpu_limit``, or DockerSpawner). Here each
process gets an address-space limit (RLIMIT_AS) against a runaway render or model, the
numba/BLAS thread pools are sized to the CPU limit, the number of running servers is
capped, and spawns are rate-limited. Measured footprint (bench/bench_idle.py, issue 18): an
idle kernel holding a stopped engine uses no CPU and ~120 MB of private memory.
"""

from __future__ import annotations

import os
import resource
import sys
from pathlib import Path
from typing import Any

from jupyterhub.spawner import LocalProcessSpawner, SimpleLocalProcessSpawner
from traitlets import default

c: Any = get_config()  # type: ignore[name-defined]  # noqa: F821  (given by JupyterHub)


def _names(value: str) -> list[str]:
    """User names from "a,b,c" or from a file with one name per line (# comments)."""
    path = Path(value).expanduser()
    if "," not in value and path.is_file():
        lines = [ln.split("#", 1)[0].strip() for ln in path.read_text().splitlines()]
        names = [ln for ln in lines if ln]
    else:
        names = [n.strip() for n in value.split(",") if n.strip()]
    for n in names:
        if not n.replace("-", "").replace("_", "").replace(".", "").isalnum() or n != n.lower():
            raise ValueError(f"MOS_LAB_HUB_STUDENTS: {n!r} is not a lower-case user name "
                             "(letters, digits, - _ .)")
    return names


def _bytes(value: str) -> int:
    """"4G", "512M", "1000000" -> bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    v = value.strip().upper()
    try:
        return int(float(v[:-1]) * units[v[-1]]) if v and v[-1] in units else int(v)
    except (ValueError, KeyError):
        raise ValueError(f"MOS_LAB_HUB_MEM_LIMIT: {value!r} is not a size like 4G or 512M"
                         ) from None


env = os.environ
instructor = env.get("MOS_LAB_HUB_INSTRUCTOR", "instructor").strip()
students = _names(env.get("MOS_LAB_HUB_STUDENTS", "")) or [
    f"student{i:02d}" for i in range(1, 31)]
if instructor in students:
    raise ValueError(f"MOS_LAB_HUB_INSTRUCTOR: {instructor!r} is also listed as a student")
mem_limit = _bytes(env.get("MOS_LAB_HUB_MEM_LIMIT", "4G"))
try:
    cpu_limit = float(env.get("MOS_LAB_HUB_CPU_LIMIT", "1"))
except ValueError:
    raise ValueError("MOS_LAB_HUB_CPU_LIMIT: expected a number of CPUs, e.g. 1 or 0.5"
                     ) from None
threads = str(max(1, int(cpu_limit)))

# -- who may log in -----------------------------------------------------------------------
auth = env.get("MOS_LAB_HUB_AUTH", "pam")
if auth == "shared-password":
    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = env.get("MOS_LAB_HUB_PASSWORD")
    c.SharedPasswordAuthenticator.admin_password = env.get("MOS_LAB_HUB_ADMIN_PASSWORD")
elif auth == "pam":
    c.JupyterHub.authenticator_class = "pam"
else:
    raise ValueError(f"MOS_LAB_HUB_AUTH: {auth!r} is not 'pam' or 'shared-password'")
c.Authenticator.admin_users = {instructor}
c.Authenticator.allowed_users = {instructor, *students}
c.JupyterHub.load_groups = {"students": {"users": students}}
# The instructor is admin (sees, starts and opens every server); the role says so in words.
c.JupyterHub.load_roles = [{
    "name": "instructor",
    "description": "Runs the class: students' servers, their notebooks and the hub",
    "scopes": ["admin:users", "admin:servers", "access:servers", "list:users", "groups"],
    "users": [instructor],
}]
token = env.get("MOS_LAB_HUB_API_TOKEN")
if token:
    c.JupyterHub.services = [{"name": "class-admin", "api_token": token}]
    c.JupyterHub.load_roles.append({
        "name": "class-admin",
        "scopes": ["admin:users", "admin:servers", "access:servers", "list:users", "tokens"],
        "services": ["class-admin"],
    })

# -- each user's server ---------------------------------------------------------------------
base = SimpleLocalProcessSpawner if env.get("MOS_LAB_HUB_SPAWNER") == "simple" \
    else LocalProcessSpawner
if env.get("MOS_LAB_HUB_SPAWNER", "local") not in ("local", "simple"):
    raise ValueError(f"MOS_LAB_HUB_SPAWNER: {env['MOS_LAB_HUB_SPAWNER']!r} is not "
                     "'local' or 'simple'")


class ClassSpawner(base):  # type: ignore[misc, valid-type]
    """The chosen local spawner with an address-space limit on the user's processes."""

    @default("env_keep")
    def _env_keep_default(self) -> list[str]:
        # A JACK server a class machine runs for local playback (and the tests' dummy one).
        return [*super()._env_keep_default(), "JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER",
                "NUMBA_CACHE_DIR"]

    def make_preexec_fn(self, name: str) -> Any:
        inner = super().make_preexec_fn(name)

        def preexec() -> None:
            if mem_limit > 0:  # inherited by every kernel the server starts
                resource.setrlimit(resource.RLIMIT_AS, (mem_limit, mem_limit))
            inner()

        return preexec


c.JupyterHub.spawner_class = ClassSpawner
c.SimpleLocalProcessSpawner.home_dir_template = os.path.join(
    env.get("MOS_LAB_HUB_HOME", "/tmp/mos-lab-hub"), "{username}")
# The single-user server of the Python that runs the hub (the environment with mos_lab);
# as root (a container) Jupyter refuses to start without --allow-root.
c.Spawner.cmd = [os.path.join(os.path.dirname(sys.executable), "jupyterhub-singleuser")]
if os.getuid() == 0 and base is SimpleLocalProcessSpawner:
    c.Spawner.args = ["--allow-root"]
c.Spawner.default_url = "/lab"
c.Spawner.mem_limit = mem_limit or None  # shown to the user (MEM_LIMIT), enforced above
c.Spawner.cpu_limit = cpu_limit
c.Spawner.environment = {
    "MOS_LAB_OUTPUT": "browser",  # a kernel on a server plays through the user's page
    "NUMBA_NUM_THREADS": threads,  # offline renders split over this many threads
    "OMP_NUM_THREADS": threads,
    "OPENBLAS_NUM_THREADS": threads,
    "MKL_NUM_THREADS": threads,
}
# the instrument set and renderer chosen for the class reach every user's kernel
c.Spawner.env_keep.extend(["MOS_LAB_SOUNDFONT", "MOS_LAB_RENDERER", "MOS_LAB_WGPU_BACKEND"])
c.Spawner.start_timeout = 120  # a loaded machine: server, then the first kernel
c.Spawner.http_timeout = 60

# -- the hub --------------------------------------------------------------------------------
c.JupyterHub.allow_named_servers = False  # one server, so one engine per kernel per user
c.JupyterHub.active_server_limit = len(students) + 1
# Spawns in flight at once; more are answered "too many users, try again" (429), so a class
# logging in together starts in waves instead of stalling a small machine.
c.JupyterHub.concurrent_spawn_limit = 10
c.JupyterHub.cleanup_servers = True  # stopping the hub stops the servers
c.JupyterHub.shutdown_on_logout = False
