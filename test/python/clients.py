"""Helpers shared by the conformance tests: inputs built the way tritonclient users build them."""
import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

# The protocols a test runs over: the module of tritonclient, and the server's URL attribute.
PROTOCOLS = {"http": (httpclient, "http_url"), "grpc": (grpcclient, "grpc_url")}


def client(server, protocol, **kwargs):
    module, attr = PROTOCOLS[protocol]
    return module.InferenceServerClient(getattr(server, attr), **kwargs)


def add_sub_inputs(module, binary=None):
    """INPUT0 = [0, 1, 2, 3], INPUT1 = [1, 1, 1, 1] for add_sub; also returns the two arrays."""
    a = np.arange(4, dtype=np.float32)
    b = np.ones(4, dtype=np.float32)
    inputs = [module.InferInput("INPUT0", [4], "FP32"), module.InferInput("INPUT1", [4], "FP32")]
    for i, x in zip(inputs, (a, b)):
        if binary is None:
            i.set_data_from_numpy(x)
        else:
            i.set_data_from_numpy(x, binary_data=binary)
    return inputs, a, b


def tensor(module, name, array, binary=None):
    """One InferInput holding `array` (its datatype from numpy, BYTES for object arrays)."""
    from tritonclient.utils import np_to_triton_dtype

    t = module.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
    if binary is None:
        t.set_data_from_numpy(array)
    else:
        t.set_data_from_numpy(array, binary_data=binary)
    return t
