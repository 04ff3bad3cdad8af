"""
System shared memory (the shared-memory extension) with the official client's
tritonclient.utils.shared_memory, over HTTP and gRPC: register, infer with inputs and outputs in
regions, status, unregister; each security rule; a region unregistered or unlinked while a request
reads it; register/unregister cycles without leaks of mappings or descriptors.
"""
import os
import threading
import uuid

import numpy as np
import pytest
import tritonclient.utils.shared_memory as shm
from tritonclient.utils import InferenceServerException

from clients import PROTOCOLS, client
from conftest import FIXTURES

REPO = FIXTURES / "shm-repo"
ALLOW = ("--allow-client-shm", "true")


@pytest.fixture(scope="module")
def shm_server():
    from conftest import Server

    s = Server([REPO], ALLOW)
    yield s
    assert s.stop() == 0, s.log


@pytest.fixture
def regions():
    """Client segments made for one test (create_shared_memory_region); destroyed after it."""
    made = []

    def make(byte_size, key=None):
        key = key or "/pytest-%s" % uuid.uuid4().hex[:12]
        handle = shm.create_shared_memory_region(key, key, byte_size)
        made.append(handle)
        return key, handle

    yield make
    for h in made:
        try:
            shm.destroy_shared_memory_region(h)
        except Exception:
            pass


def unique(prefix):
    return "%s_%s" % (prefix, uuid.uuid4().hex[:8])


def simple_io(module, in_region, out_region, size=64):
    inputs = [module.InferInput("INPUT0", [1, 16], "INT32"), module.InferInput("INPUT1", [1, 16], "INT32")]
    inputs[0].set_shared_memory(in_region, size)
    inputs[1].set_shared_memory(in_region, size, offset=size)
    outputs = [module.InferRequestedOutput("OUTPUT0"), module.InferRequestedOutput("OUTPUT1")]
    outputs[0].set_shared_memory(out_region, size)
    outputs[1].set_shared_memory(out_region, size, offset=size)
    return inputs, outputs


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_register_infer_status_unregister(shm_server, regions, protocol):
    module = PROTOCOLS[protocol][0]
    c = client(shm_server, protocol)
    in_key, in_handle = regions(128)
    out_key, out_handle = regions(128)
    a = np.arange(16, dtype=np.int32).reshape(1, 16)
    b = np.full((1, 16), 3, dtype=np.int32)
    shm.set_shared_memory_region(in_handle, [a, b])
    in_name, out_name = unique("in"), unique("out")
    c.register_system_shared_memory(in_name, in_key, 128)
    c.register_system_shared_memory(out_name, out_key, 128)
    try:
        status = c.get_system_shared_memory_status(region_name=in_name)
        if protocol == "http":
            assert status == [{"name": in_name, "key": in_key, "offset": 0, "byte_size": 128}]
        else:
            assert status.regions[in_name].key == in_key and status.regions[in_name].byte_size == 128
        inputs, outputs = simple_io(module, in_name, out_name)
        result = c.infer("simple", inputs, outputs=outputs)
        out0 = result.get_output("OUTPUT0")
        # As Triton's, the response carries neither data nor parameters for an output in a region.
        if protocol == "http":
            assert out0 == {"name": "OUTPUT0", "datatype": "INT32", "shape": [1, 16]}
        else:
            assert out0.name == "OUTPUT0" and len(out0.parameters) == 0
            assert [len(c) for c in result.get_response().raw_output_contents] == [0, 0]
        sum_ = shm.get_contents_as_numpy(out_handle, np.int32, [1, 16])
        diff = shm.get_contents_as_numpy(out_handle, np.int32, [1, 16], offset=64)
        np.testing.assert_array_equal(sum_, a + b)
        np.testing.assert_array_equal(diff, a - b)
    finally:
        c.unregister_system_shared_memory(in_name)
        c.unregister_system_shared_memory(out_name)
    status = c.get_system_shared_memory_status()
    names = [r["name"] for r in status] if protocol == "http" else list(status.regions)
    assert in_name not in names and out_name not in names


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_input_in_region_output_in_response(shm_server, regions, protocol):
    module = PROTOCOLS[protocol][0]
    c = client(shm_server, protocol)
    key, handle = regions(4096)
    x = np.linspace(0, 1, 1024, dtype=np.float32)
    shm.set_shared_memory_region(handle, [x])
    name = unique("x")
    c.register_system_shared_memory(name, key, 4096)
    try:
        i = module.InferInput("INPUT0", [1024], "FP32")
        i.set_shared_memory(name, 4096)
        np.testing.assert_array_equal(c.infer("identity_fp32", [i]).as_numpy("OUTPUT0"), x)
    finally:
        c.unregister_system_shared_memory(name)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_bytes_in_regions(shm_server, regions, protocol):
    module = PROTOCOLS[protocol][0]
    c = client(shm_server, protocol)
    data = np.array([b"alpha", b"", b"\x00\xffbinary"], dtype=np.object_)
    from tritonclient.utils import serialize_byte_tensor, serialized_byte_size

    serialized = serialize_byte_tensor(data)
    size = serialized_byte_size(serialized)
    key, handle = regions(size)
    out_key, out_handle = regions(size)
    shm.set_shared_memory_region(handle, [serialized])
    name, out_name = unique("b"), unique("bo")
    c.register_system_shared_memory(name, key, size)
    c.register_system_shared_memory(out_name, out_key, size)
    try:
        i = module.InferInput("INPUT0", [3], "BYTES")
        i.set_shared_memory(name, size)
        o = module.InferRequestedOutput("OUTPUT0")
        o.set_shared_memory(out_name, size)
        c.infer("string_identity", [i], outputs=[o])
        got = shm.get_contents_as_numpy(out_handle, np.object_, [3])
        assert list(got) == list(data)
        # A layout that is not Triton's (a length running past the window) is refused, element by element.
        shm.set_shared_memory_region(handle, [np.frombuffer(b"\xff\x00\x00\x00" + b"x" * (size - 4), dtype=np.uint8)])
        with pytest.raises(InferenceServerException) as e:
            c.infer("string_identity", [i])
        assert "INPUT0" in e.value.message()
    finally:
        c.unregister_system_shared_memory(name)
        c.unregister_system_shared_memory(out_name)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_security_rules(shm_server, regions, protocol):
    module = PROTOCOLS[protocol][0]
    c = client(shm_server, protocol)
    key, handle = regions(256)

    def refused(fn, text):
        with pytest.raises(InferenceServerException) as e:
            fn()
        assert text in e.value.message(), e.value.message()
        return e.value.message()

    # tessera's own segment names, also behind extra slashes, never register.
    for bad in ("/tessera-123-abc", "//tessera-x", "tessera-y"):
        msg = refused(lambda: c.register_system_shared_memory(unique("r"), bad, 16), "the key contains the reserved prefix 'tessera-'")
    # Nothing of tessera's segment names shows in a response.
    assert "tessera-123-abc" in msg or "tessera-y" in msg or "tessera-x" in msg
    # The window must fit in the segment's real size.
    refused(lambda: c.register_system_shared_memory(unique("r"), key, 256, offset=1), "invalid args")
    refused(lambda: c.register_system_shared_memory(unique("r"), key, 512), "invalid args")
    refused(lambda: c.register_system_shared_memory(unique("r"), "/pytest-no-such-segment", 16), "Unable to open shared memory region")
    name = unique("r")
    c.register_system_shared_memory(name, key, 128, offset=64)
    try:
        refused(lambda: c.register_system_shared_memory(name, key, 16), "already in manager")
        i = module.InferInput("INPUT0", [16], "FP32")
        # Per-request windows must fit in the registered one.
        i.set_shared_memory(name, 64, offset=128)
        refused(lambda: c.infer("identity_fp32", [i]), "Invalid offset for shared memory region")
        i.set_shared_memory(name, 128, offset=64)
        refused(lambda: c.infer("identity_fp32", [i]), "Invalid offset + byte size for shared memory region")
        if protocol == "http":
            # JSON carries a uint64: the sum overflows, and is refused as such.
            i.set_shared_memory(name, 2**64 - 1, offset=8)
            refused(lambda: c.infer("identity_fp32", [i]), "Integer overflow detected")
        else:
            # gRPC's client sends int64_param: the largest cannot overflow, but is still out of range.
            i.set_shared_memory(name, 2**63 - 1, offset=8)
            refused(lambda: c.infer("identity_fp32", [i]), "Invalid offset + byte size for shared memory region")
        # The byte size must match the datatype and shape.
        i.set_shared_memory(name, 60)
        refused(lambda: c.infer("identity_fp32", [i]), "INPUT0")
        i.set_shared_memory(unique("nope"), 64)
        refused(lambda: c.infer("identity_fp32", [i]), "Unable to find shared memory region")
        # An output window too small for the result.
        i.set_shared_memory(name, 64)
        o = module.InferRequestedOutput("OUTPUT0")
        o.set_shared_memory(name, 32)
        refused(lambda: c.infer("identity_fp32", [i], outputs=[o]), "should be at least 64 bytes to hold the results")
        refused(lambda: c.get_system_shared_memory_status(region_name=unique("nope")), "Unable to find system shared memory region")
    finally:
        c.unregister_system_shared_memory(name)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_off_by_default(start_server, protocol):
    s = start_server(REPO)
    c = client(s, protocol)
    text = "Client shared memory is disabled. Start the server with '--allow-client-shm=true' to enable."
    for call in (lambda: c.register_system_shared_memory("r", "/k", 16), lambda: c.get_system_shared_memory_status(),
                 lambda: c.unregister_system_shared_memory()):
        with pytest.raises(InferenceServerException) as e:
            call()
        assert e.value.message() == text
    # Not listed as unavailable: the extension is there, behind the flag (cuda_shared_memory is not).
    meta = c.get_server_metadata()
    ext = meta["extensions"] if protocol == "http" else list(meta.extensions)
    assert "system_shared_memory" in ext and "cuda_shared_memory" not in ext


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_cuda_shared_memory_unsupported(shm_server, protocol):
    c = client(shm_server, protocol)
    with pytest.raises(InferenceServerException) as e:
        c.register_cuda_shared_memory("gpu_region", b"\x00" * 64, 0, 64)
    assert "GPUs not supported" in e.value.message()


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("how", ["unregister", "unlink"])
def test_region_gone_mid_request(shm_server, regions, protocol, how):
    """The client unregisters or unlinks a region while a slow request reads it: the request still
    completes with the right data, nothing crashes, and the server keeps serving."""
    module = PROTOCOLS[protocol][0]
    c = client(shm_server, protocol)
    key, handle = regions(4096)
    out_key, out_handle = regions(4096)
    x = np.arange(1024, dtype=np.float32)
    shm.set_shared_memory_region(handle, [x])
    name, out_name = unique("slow"), unique("slowout")
    c.register_system_shared_memory(name, key, 4096)
    c.register_system_shared_memory(out_name, out_key, 4096)
    i = module.InferInput("INPUT0", [1024], "FP32")
    i.set_shared_memory(name, 4096)
    o = module.InferRequestedOutput("OUTPUT0")
    o.set_shared_memory(out_name, 4096)
    result = {}

    def run():
        try:
            # A client of its own: the HTTP client is not shared across threads.
            result["r"] = client(shm_server, protocol).infer("slow_identity", [i], outputs=[o], parameters={"delay_ms": 800})
        except Exception as err:  # noqa: BLE001 - reported below
            result["e"] = err

    t = threading.Thread(target=run)
    t.start()
    import time

    time.sleep(0.3)
    if how == "unregister":
        c.unregister_system_shared_memory(name)
        c.unregister_system_shared_memory(out_name)
    else:
        os.unlink("/dev/shm" + key)
        os.unlink("/dev/shm" + out_key)
    t.join(30)
    assert "e" not in result, result.get("e")
    np.testing.assert_array_equal(shm.get_contents_as_numpy(out_handle, np.float32, [1024]), x)
    if how == "unlink":
        c.unregister_system_shared_memory(name)
        c.unregister_system_shared_memory(out_name)
    # Still serving, and nothing leaked into the status.
    assert c.is_server_live()
    status = c.get_system_shared_memory_status()
    names = [r["name"] for r in status] if protocol == "http" else list(status.regions)
    assert name not in names


def _counts(pid):
    maps = open("/proc/%d/maps" % pid).read().count("/dev/shm/")
    fds = len(os.listdir("/proc/%d/fd" % pid))
    return maps, fds


def _stub_pids(server_pid):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if int(open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()[1]) == server_pid:
                    out.append(int(p))
            except (OSError, IndexError, ValueError):
                pass
    return out


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_register_unregister_cycles_leak_nothing(shm_server, regions, protocol):
    """1 000 register / infer / unregister cycles: main's and the stubs' mappings and descriptors
    are counted before and after (/proc/<pid>/maps and /proc/<pid>/fd)."""
    module = PROTOCOLS[protocol][0]
    c = client(shm_server, protocol)
    key, handle = regions(64)
    shm.set_shared_memory_region(handle, [np.ones(16, dtype=np.float32)])
    i = module.InferInput("INPUT0", [16], "FP32")
    o = module.InferRequestedOutput("OUTPUT0")
    # Warm up (first-use allocations), then count.
    c.register_system_shared_memory("warm", key, 64)
    i.set_shared_memory("warm", 64)
    o.set_shared_memory("warm", 64)
    c.infer("identity_fp32", [i], outputs=[o])
    c.unregister_system_shared_memory("warm")
    pids = [shm_server.proc.pid] + _stub_pids(shm_server.proc.pid)
    before = {p: _counts(p) for p in pids}
    for n in range(1000):
        name = "cycle%d" % n
        c.register_system_shared_memory(name, key, 64)
        if n % 10 == 0:
            i.set_shared_memory(name, 64)
            o.set_shared_memory(name, 64)
            c.infer("identity_fp32", [i], outputs=[o])
        c.unregister_system_shared_memory(name)
    c.is_server_live()  # the stubs' DROP_REGION messages are handled by now
    import time

    time.sleep(0.3)
    after = {p: _counts(p) for p in pids}
    for p in pids:
        assert after[p][0] <= before[p][0], ("mappings", p, before[p], after[p])
        assert after[p][1] <= before[p][1] + 2, ("fds", p, before[p], after[p])


def _perf_analyzer():
    """The perf_analyzer `npm run bench -- perf` / `shm` installed (bench/python-tools.js), if any."""
    import glob

    cache = os.environ.get("TESSERA_PY_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "tessera")
    for d in sorted(glob.glob(os.path.join(cache, "bench-perf*"))):
        b = os.path.join(d, "bin", "perf_analyzer")
        if os.path.exists(os.path.join(d, ".complete")) and os.path.exists(b):
            env = dict(os.environ)
            libs = glob.glob(os.path.join(d, "lib", "python*", "site-packages", "nvidia", "cuda_runtime", "lib"))
            if libs:
                env["LD_LIBRARY_PATH"] = ":".join(libs + [env.get("LD_LIBRARY_PATH", "")])
            return b, env
    return None, None


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_perf_analyzer_shared_memory_system(shm_server, protocol):
    import subprocess

    binary, env = _perf_analyzer()
    if binary is None:
        pytest.skip("perf_analyzer is not installed (run `npm run bench -- shm` once to install it)")
    url = getattr(shm_server, PROTOCOLS[protocol][1])
    r = subprocess.run([binary, "-m", "identity_fp32", "-u", url, "-i", protocol, "--shape", "INPUT0:65536",
                        "--shared-memory", "system", "--output-shared-memory-size", str(65536 * 4),
                        "--concurrency-range", "1", "-p", "1000", "-s", "1000", "-r", "3"],
                       env=env, capture_output=True, text=True, timeout=120)
    if "error while loading shared libraries" in r.stderr:
        pytest.skip("perf_analyzer does not run here: " + r.stderr.strip().splitlines()[0])
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "Throughput" in r.stdout
    # perf_analyzer unregisters what it registered: nothing is left behind.
    status = client(shm_server, protocol).get_system_shared_memory_status()
    assert (status == []) if protocol == "http" else (len(status.regions) == 0)
