"""
The real server for the conformance suite: `node server.js` on loopback with ephemeral HTTP and
gRPC ports, real stubs and real shared memory, spoken to only through the official tritonclient.
"""
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "test" / "fixtures"
EXAMPLES = ROOT / "examples" / "model_repository"
NODE = os.environ.get("TESSERA_NODE") or shutil.which("node") or "node"


class Server:
    """One server process; its log is kept, and read for the ports it listens on."""

    def __init__(self, repositories, args=(), grpc=True):
        cmd = [NODE, str(ROOT / "server.js")]
        for r in repositories:
            cmd += ["--model-repository", str(r)]
        cmd += ["--http-port", "0", "--http-address", "127.0.0.1", "--allow-metrics", "false"]
        cmd += ["--grpc-port", "0", "--grpc-address", "127.0.0.1"] if grpc else ["--allow-grpc", "false"]
        self.args = list(args)
        cmd += self.args
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._lines = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self.http_url = self.wait_for(r"Started HTTPService at (\S+)").group(1)
        self.grpc_url = self.wait_for(r"Started GRPCInferenceService at (\S+)").group(1) if grpc else None
        # With --openai-port, the OpenAI-compatible API's base URL (as the openai package takes it).
        self.openai_url = None
        if "--openai-port" in self.args:
            self.openai_url = "http://%s/v1" % self.wait_for(r"Started OpenAIService at (\S+)").group(1)

    def _read(self):
        for line in self.proc.stdout:
            with self._changed:
                self._lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def log(self):
        with self._changed:
            return "\n".join(self._lines)

    def wait_for(self, pattern, timeout=60):
        """The first log match of `pattern`, waiting for it; fails with the log when it never comes."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self._lines:
                    m = regex.search(line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and not self._more_expected():
                    raise AssertionError(f"server never logged {pattern!r}:\n" + "\n".join(self._lines))
                self._changed.wait(min(left, 0.5))

    def _more_expected(self):
        return self.proc.stdout is not None and not self.proc.stdout.closed

    def stop(self, timeout=60):
        """SIGTERM, as a user stops it; the exit status (a kill after `timeout` fails the test)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("server did not exit within %ss of SIGTERM:\n%s" % (timeout, self.log))
        return self.proc.returncode


@pytest.fixture
def start_server():
    """Starts servers for one test (`start_server(repo, *flags)`); all are stopped after it."""
    started = []

    def start(*repositories, args=(), grpc=True):
        s = Server(repositories, args, grpc)
        started.append(s)
        return s

    yield start
    for s in started:
        assert s.stop() == 0, s.log


@pytest.fixture(scope="session")
def examples_server():
    """The README's example repository (add_sub, my_python_model, text_generator), shared."""
    s = Server([EXAMPLES])
    yield s
    assert s.stop() == 0, s.log


@pytest.fixture
def repo_copy():
    """A private copy of a repository folder, for tests that edit it; removed afterwards."""
    made = []

    def copy(source):
        d = tempfile.mkdtemp(prefix="tessera-pyrepo-")
        shutil.copytree(source, d, dirs_exist_ok=True)
        made.append(d)
        return pathlib.Path(d)

    yield copy
    for d in made:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def fixtures_server():
    """http-repo (classifier, echo, batched) and decoupled-repo (repeat, …), shared by the tests that
    change no state; tests that count statistics read them before and after (deltas)."""
    s = Server([FIXTURES / "http-repo", FIXTURES / "decoupled-repo"])
    yield s
    assert s.stop() == 0, s.log
