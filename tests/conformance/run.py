#!/usr/bin/env python3
"""ONNX backend node tests through inferkit's C ABI, or through onnxruntime's Python API.

The cases are the ones the `onnx` wheel ships (onnx/backend/test/data/node: a model.onnx and
test_data_set_*/input_*.pb, output_*.pb each). Every case runs in a worker process; a case that
kills its worker is recorded as a crash and the next case gets a fresh worker, so one crash never
hides the others. Outputs are compared as onnx's backend test runner compares them
(onnx.backend.test.runner.Runner.assert_similar_outputs: same shape, same dtype, allclose at the
case's rtol/atol, default 1e-3/1e-7, strings equal), extended to maps and absent optionals.

    run.py --backend inferkit --lib target/debug/libinferkit.so --ort target/onnxruntime/libonnxruntime.so.1.31.1 --json a.json
    run.py --backend onnxruntime --json b.json
    run.py --backend tract --lib target/debug/libinferkit.so --ort ... --json t.json   (inferkit on tract)
    run.py --compare a.json b.json [--require-superset]
    run.py --self-test --backend inferkit --lib ... --ort ...

--self-test checks the runner itself: a worker made to abort on one case must cost that case
only (recorded as a crash), and every other case must still run.

Exit status: 0, or 1 when --require-superset finds a case the second backend passes and the first
does not, or when (with --require-superset or --require-no-crash) the first backend crashed or
timed out on any case.
"""

import argparse
import collections
import ctypes
import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
import traceback

CASE_TIMEOUT_S = 60

# --------------------------------------------------------------------------------------------
# Values: reading the .pb files with onnx, comparing results.


def load_case(case_dir):
    """The model's graph inputs and outputs, and each data set's inputs and expected outputs."""
    import glob

    import onnx
    from onnx import numpy_helper

    model = onnx.load(os.path.join(case_dir, "model.onnx"), load_external_data=False)

    def load(path, type_proto):
        with open(path, "rb") as f:
            data = f.read()
        if type_proto.HasField("sequence_type"):
            p = onnx.SequenceProto()
            p.ParseFromString(data)
            return numpy_helper.to_list(p)
        if type_proto.HasField("optional_type"):
            p = onnx.OptionalProto()
            p.ParseFromString(data)
            return numpy_helper.to_optional(p)
        if type_proto.HasField("map_type"):
            p = onnx.MapProto()
            p.ParseFromString(data)
            return numpy_helper.to_dict(p)
        p = onnx.TensorProto()
        p.ParseFromString(data)
        return numpy_helper.to_array(p)

    sets = []
    for d in sorted(glob.glob(os.path.join(case_dir, "test_data_set_*"))):
        n_in = len(glob.glob(os.path.join(d, "input_*.pb")))
        n_out = len(glob.glob(os.path.join(d, "output_*.pb")))
        inputs = [
            (model.graph.input[i].name,
             load(os.path.join(d, f"input_{i}.pb"), model.graph.input[i].type),
             model.graph.input[i].type)
            for i in range(n_in)
        ]
        outputs = [load(os.path.join(d, f"output_{i}.pb"), model.graph.output[i].type)
                   for i in range(n_out)]
        sets.append((inputs, outputs))
    return model, sets


def tolerances(case_dir):
    rtol, atol = 1e-3, 1e-7
    path = os.path.join(case_dir, "data.json")
    if os.path.exists(path):
        with open(path) as f:
            data = json.load(f)
        rtol, atol = data.get("rtol", rtol), data.get("atol", atol)
    return rtol, atol


def text(x):
    return x.decode("utf-8", "surrogateescape") if isinstance(x, bytes) else x


def compare(ref, out, rtol, atol, where="output"):
    """None when `out` matches `ref`, else why not."""
    import numpy as np

    if ref is None or out is None:
        if ref is None and out is None:
            return None
        return f"{where}: expected {'none' if ref is None else 'a value'}, got {'none' if out is None else 'a value'}"
    if isinstance(ref, (list, tuple)):
        if not isinstance(out, (list, tuple)):
            return f"{where}: expected a sequence, got {type(out).__name__}"
        if len(ref) != len(out):
            return f"{where}: expected {len(ref)} elements, got {len(out)}"
        for i, (r, o) in enumerate(zip(ref, out)):
            why = compare(r, o, rtol, atol, f"{where}[{i}]")
            if why:
                return why
        return None
    if isinstance(ref, dict):
        if not isinstance(out, dict):
            return f"{where}: expected a map, got {type(out).__name__}"
        r = {text(k): v for k, v in ref.items()}
        o = {text(k): v for k, v in out.items()}
        if sorted(r) != sorted(o):
            return f"{where}: keys differ"
        for k in r:
            why = compare(np.asarray(r[k]), np.asarray(o[k]), rtol, atol, f"{where}[{k!r}]")
            if why:
                return why
        return None
    ref = np.asarray(ref)
    if not isinstance(out, np.ndarray):
        return f"{where}: expected a tensor, got {type(out).__name__}"
    if tuple(out.shape) != tuple(ref.shape):
        return f"{where}: shape {tuple(out.shape)}, expected {tuple(ref.shape)}"
    if ref.dtype == object:
        a = [text(x) for x in out.reshape(-1)]
        b = [text(x) for x in ref.reshape(-1)]
        return None if a == b else f"{where}: strings differ"
    if out.dtype != ref.dtype:
        return f"{where}: dtype {out.dtype}, expected {ref.dtype}"
    try:
        np.testing.assert_allclose(out.astype(np.float64), ref.astype(np.float64), rtol=rtol, atol=atol)
    except AssertionError as e:
        lines = [l for l in str(e).splitlines() if "Mismatched" in l or "Max absolute" in l]
        return f"{where}: values differ ({'; '.join(l.strip() for l in lines)})"
    return None


# --------------------------------------------------------------------------------------------
# inferkit through its C ABI (ctypes).

# inferkit_dtype numbers are ONNX's TensorProto codes.
ONNX_DTYPE_BY_NAME = {
    "float32": 1, "uint8": 2, "int8": 3, "uint16": 4, "int16": 5, "int32": 6, "int64": 7,
    "bool": 9, "float16": 10, "float64": 11, "uint32": 12, "uint64": 13, "bfloat16": 16,
    "float8_e4m3fn": 17, "float8_e4m3fnuz": 18, "float8_e5m2": 19, "float8_e5m2fnuz": 20,
    "uint4": 21, "int4": 22, "float4_e2m1fn": 23, "float8_e8m0fnu": 24, "uint2": 25, "int2": 26,
}
PACKED_BITS = {21: 4, 22: 4, 23: 4, 25: 2, 26: 2}


def numpy_dtype(code):
    import ml_dtypes
    import numpy as np

    name = {v: k for k, v in ONNX_DTYPE_BY_NAME.items()}.get(code)
    if name is None:
        raise ValueError(f"inferkit dtype {code}")
    if hasattr(np, name) and name not in ("bfloat16",):
        return np.dtype(name)
    return np.dtype(getattr(ml_dtypes, name))


def pack(codes, bits):
    """Packs small integers (their low `bits` bits), the first element in the lowest bits."""
    import numpy as np

    per = 8 // bits
    n = len(codes)
    padded = np.zeros(((n + per - 1) // per) * per, np.uint8)
    padded[:n] = codes & ((1 << bits) - 1)
    padded = padded.reshape(-1, per)
    out = np.zeros(padded.shape[0], np.uint8)
    for i in range(per):
        out |= padded[:, i] << (i * bits)
    return out.tobytes()


def unpack(data, n, bits):
    import numpy as np

    per = 8 // bits
    raw = np.frombuffer(data, np.uint8)
    parts = [(raw >> (i * bits)) & ((1 << bits) - 1) for i in range(per)]
    return np.stack(parts, axis=1).reshape(-1)[:n]


class Inferkit:
    """inferkit's C ABI; `engine` is the inferkit_backend models are opened with (0 ONNX Runtime,
    1 tract)."""

    def __init__(self, lib_path, ort_path, engine=0):
        self.lib = lib = ctypes.CDLL(lib_path)
        P, S, U32, I64 = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint32, ctypes.c_int64
        PP = ctypes.POINTER(ctypes.c_void_p)
        sig = {
            "inferkit_runtime_init": (U32, [ctypes.c_char_p, PP]),
            "inferkit_error_message": (ctypes.c_char_p, [P]),
            "inferkit_error_free": (None, [P]),
            "inferkit_model_open": (U32, [ctypes.c_char_p, P, PP, PP]),
            "inferkit_model_close": (None, [P]),
            "inferkit_model_options_new": (U32, [PP, PP]),
            "inferkit_model_options_free": (None, [P]),
            "inferkit_model_options_set_backend": (U32, [P, U32, PP]),
            "inferkit_model_options_set_instances": (U32, [P, ctypes.c_size_t, PP]),
            "inferkit_request_new": (U32, [P, PP, PP]),
            "inferkit_request_free": (None, [P]),
            "inferkit_request_add_value": (U32, [P, ctypes.c_char_p, P, PP]),
            "inferkit_request_run": (U32, [P, PP, PP]),
            "inferkit_outputs_count": (S, [P]),
            "inferkit_outputs_value": (P, [P, S]),
            "inferkit_outputs_free": (None, [P]),
            "inferkit_value_new_tensor": (U32, [U32, ctypes.POINTER(I64), S, P, S, PP, PP]),
            "inferkit_value_new_strings": (U32, [ctypes.POINTER(I64), S, ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(S), S, PP, PP]),
            "inferkit_value_new_sequence": (U32, [ctypes.POINTER(P), S, PP, PP]),
            "inferkit_value_new_map": (U32, [P, P, PP, PP]),
            "inferkit_value_new_optional": (U32, [P, PP, PP]),
            "inferkit_value_free": (None, [P]),
            "inferkit_value_get_kind": (U32, [P]),
            "inferkit_value_count": (S, [P]),
            "inferkit_value_item": (P, [P, S]),
            "inferkit_value_tensor": (P, [P]),
            "inferkit_value_map_tensor": (P, [P, ctypes.c_bool]),
            "inferkit_tensor_read": (U32, [P, ctypes.POINTER(U32), ctypes.POINTER(ctypes.POINTER(S)), ctypes.POINTER(S), ctypes.POINTER(S), PP, ctypes.POINTER(S), PP]),
            "inferkit_tensor_string": (U32, [P, S, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(S), PP]),
        }
        for name, (res, args) in sig.items():
            f = getattr(lib, name)
            f.restype, f.argtypes = res, args
        self.call(lib.inferkit_runtime_init, ort_path.encode())
        self.options = ctypes.c_void_p()
        self.call(lib.inferkit_model_options_new, ctypes.byref(self.options))
        self.call(lib.inferkit_model_options_set_backend, self.options, engine)
        # One session, so that the runs of a case follow one another on it (see run_case).
        self.call(lib.inferkit_model_options_set_instances, self.options, 1)
        self.engine = engine

    def call(self, f, *args):
        err = ctypes.c_void_p()
        status = f(*args, ctypes.byref(err))
        if status != 0:
            message = "status %d" % status
            if err.value:
                message = self.lib.inferkit_error_message(err).decode("utf-8", "replace")
                self.lib.inferkit_error_free(err)
            raise InferkitError(status, message)

    def new_value(self, value, type_proto):
        """An inferkit_value the caller frees, made from a Python value of ONNX type `type_proto`."""
        import numpy as np

        lib, out = self.lib, ctypes.c_void_p()
        if type_proto is not None and type_proto.HasField("optional_type"):
            inner = None if value is None else self.new_value(value, type_proto.optional_type.elem_type)
            try:
                self.call(lib.inferkit_value_new_optional, inner, ctypes.byref(out))
            finally:
                if inner:
                    lib.inferkit_value_free(inner)
            return out.value
        if isinstance(value, (list, tuple)):
            elem = type_proto.sequence_type.elem_type if type_proto is not None else None
            items = [self.new_value(v, elem) for v in value]
            try:
                arr = (ctypes.c_void_p * max(1, len(items)))(*items)
                self.call(lib.inferkit_value_new_sequence, arr, len(items), ctypes.byref(out))
            finally:
                for i in items:
                    lib.inferkit_value_free(i)
            return out.value
        if isinstance(value, dict):
            keys = list(value.keys())
            k = self.new_value(np.array(keys, dtype=object if isinstance(keys[0] if keys else 0, (str, bytes)) else np.int64), None)
            v = self.new_value(np.array([value[x] for x in keys]), None)
            try:
                self.call(lib.inferkit_value_new_map, k, v, ctypes.byref(out))
            finally:
                lib.inferkit_value_free(k)
                lib.inferkit_value_free(v)
            return out.value
        arr = np.asarray(value)
        shape = (ctypes.c_int64 * max(1, arr.ndim))(*arr.shape)
        if arr.dtype == object or arr.dtype.kind in "US":
            items = [x if isinstance(x, bytes) else str(x).encode("utf-8", "surrogateescape")
                     for x in arr.reshape(-1)]
            ptrs = (ctypes.c_char_p * max(1, len(items)))(*items)
            lens = (ctypes.c_size_t * max(1, len(items)))(*[len(x) for x in items])
            self.call(lib.inferkit_value_new_strings, shape, arr.ndim, ptrs, lens, len(items), ctypes.byref(out))
            return out.value
        code = ONNX_DTYPE_BY_NAME.get(arr.dtype.name)
        if code is None:
            raise Unfeedable(f"numpy dtype {arr.dtype}")
        if code in PACKED_BITS:
            data = pack(arr.reshape(-1).view(np.uint8), PACKED_BITS[code])
        else:
            data = np.ascontiguousarray(arr).tobytes()
        buf = ctypes.create_string_buffer(data, max(1, len(data)))
        self.call(lib.inferkit_value_new_tensor, code, shape, arr.ndim, buf, len(data), ctypes.byref(out))
        return out.value

    def read_tensor(self, t):
        import numpy as np

        lib = self.lib
        dtype, dims, rank = ctypes.c_uint32(), ctypes.POINTER(ctypes.c_size_t)(), ctypes.c_size_t()
        n, data, length = ctypes.c_size_t(), ctypes.c_void_p(), ctypes.c_size_t()
        self.call(lib.inferkit_tensor_read, t, ctypes.byref(dtype), ctypes.byref(dims),
                  ctypes.byref(rank), ctypes.byref(n), ctypes.byref(data), ctypes.byref(length))
        shape = tuple(dims[i] for i in range(rank.value))
        if dtype.value == 8:
            strings = []
            for i in range(n.value):
                p, l = ctypes.c_void_p(), ctypes.c_size_t()
                self.call(lib.inferkit_tensor_string, t, i, ctypes.byref(p), ctypes.byref(l))
                strings.append(text(ctypes.string_at(p, l.value) if l.value else b""))
            return np.array(strings, dtype=object).reshape(shape)
        raw = ctypes.string_at(data, length.value) if length.value else b""
        dt = numpy_dtype(dtype.value)
        if dtype.value in PACKED_BITS:
            return unpack(raw, n.value, PACKED_BITS[dtype.value]).view(dt).reshape(shape) if n.value else np.zeros(shape, dt)
        return np.frombuffer(raw, dt).reshape(shape).copy()

    def read_value(self, v):
        lib = self.lib
        kind = lib.inferkit_value_get_kind(v)
        if kind == 1:
            return self.read_tensor(lib.inferkit_value_tensor(v))
        if kind == 2:
            return [self.read_value(lib.inferkit_value_item(v, i)) for i in range(lib.inferkit_value_count(v))]
        if kind == 3:
            keys = self.read_tensor(lib.inferkit_value_map_tensor(v, False))
            values = self.read_tensor(lib.inferkit_value_map_tensor(v, True))
            return {text(k.item() if hasattr(k, "item") else k): val for k, val in zip(keys, values)}
        if kind == 6:
            return self.read_value(lib.inferkit_value_item(v, 0)) if lib.inferkit_value_count(v) else None
        raise ValueError(f"value kind {kind}")

    def run_case(self, case_dir, model, sets):
        lib = self.lib
        m = ctypes.c_void_p()
        self.call(lib.inferkit_model_open, os.path.join(case_dir, "model.onnx").encode(), self.options, ctypes.byref(m))
        try:
            results = []
            for inputs, _ in sets:
                handle = ctypes.c_void_p()
                self.call(lib.inferkit_request_new, m, ctypes.byref(handle))
                try:
                    for name, value, type_proto in inputs:
                        v = self.new_value(value, type_proto)
                        try:
                            self.call(lib.inferkit_request_add_value, handle, name.encode(), v)
                        finally:
                            lib.inferkit_value_free(v)
                    # On ONNX Runtime, run three times and keep the last run's outputs: after two
                    # runs with the same input dims a session keeps its output values, and the
                    # third run writes into them (src/session.rs, `Reuse`).
                    for _ in range(3 if self.engine == 0 else 1):
                        outs = ctypes.c_void_p()
                        self.call(lib.inferkit_request_run, handle, ctypes.byref(outs))
                        try:
                            got = [self.read_value(lib.inferkit_outputs_value(outs, i))
                                   for i in range(lib.inferkit_outputs_count(outs))]
                        finally:
                            lib.inferkit_outputs_free(outs)
                    results.append(got)
                finally:
                    lib.inferkit_request_free(handle)
            return results
        finally:
            lib.inferkit_model_close(m)


class InferkitError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Unfeedable(Exception):
    pass


# --------------------------------------------------------------------------------------------
# onnxruntime's Python API.


class OnnxRuntime:
    def __init__(self):
        import onnxruntime

        self.ort = onnxruntime
        self.ort.set_default_logger_severity(3)

    def run_case(self, case_dir, model, sets):
        sess = self.ort.InferenceSession(os.path.join(case_dir, "model.onnx"),
                                         providers=["CPUExecutionProvider"])
        results = []
        for inputs, _ in sets:
            feeds = {name: value for name, value, _ in inputs}
            results.append(sess.run(None, feeds))
        return results


# --------------------------------------------------------------------------------------------
# Worker: runs the cases named on stdin, one JSON line per case on stdout.


def classify(exc):
    if isinstance(exc, InferkitError):
        return "error", f"status {exc.status}: {exc}"
    return "error", f"{type(exc).__name__}: {exc}"


def worker(args):
    if args.backend == "onnxruntime":
        backend = OnnxRuntime()
    else:
        backend = Inferkit(args.lib, args.ort, engine=1 if args.backend == "tract" else 0)
    out = sys.stdout
    sys.stdout = sys.stderr  # anything a backend prints stays out of the protocol
    crash_on = os.environ.get("CONFORMANCE_ABORT_ON")  # --self-test only
    for line in sys.stdin:
        case = line.strip()
        if case == crash_on:
            os.abort()
        case_dir = os.path.join(args.data, case)
        t0 = time.monotonic()
        try:
            model, sets = load_case(case_dir)
        except Exception as e:  # the reference data itself cannot be read here
            result = {"status": "skipped", "reason": f"cannot load case: {type(e).__name__}: {e}"}
        else:
            try:
                got = backend.run_case(case_dir, model, sets)
                rtol, atol = tolerances(case_dir)
                why = None
                for (_, expected), outs in zip(sets, got):
                    if len(outs) != len(expected):
                        why = f"{len(outs)} outputs, expected {len(expected)}"
                        break
                    for i, (r, o) in enumerate(zip(expected, outs)):
                        why = compare(r, o, rtol, atol, f"output {i}")
                        if why:
                            break
                    if why:
                        break
                result = {"status": "fail", "reason": why} if why else {"status": "pass"}
            except Exception as e:
                status, reason = classify(e)
                result = {"status": status, "reason": reason.splitlines()[0][:400] if reason else ""}
        result["case"] = case
        result["seconds"] = round(time.monotonic() - t0, 3)
        out.write(json.dumps(result) + "\n")
        out.flush()


# --------------------------------------------------------------------------------------------
# Parent: hands cases to workers, survives their crashes.


class Slot:
    def __init__(self, argv):
        self.argv = argv
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, bufsize=1)

    def run(self, case):
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        try:
            self.proc.stdin.write(case + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass
        ready, _, _ = select.select([self.proc.stdout], [], [], CASE_TIMEOUT_S)
        line = self.proc.stdout.readline() if ready else None
        if line:
            return json.loads(line)
        if not ready:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            return {"case": case, "status": "timeout", "reason": f"no answer in {CASE_TIMEOUT_S} s"}
        code = self.proc.wait()
        self.proc = None
        why = f"signal {-code}" if code < 0 else f"exit status {code}"
        return {"case": case, "status": "crash", "reason": f"the worker died ({why})"}

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait()


def run_all(args):
    cases = sorted(c for c in os.listdir(args.data)
                   if os.path.exists(os.path.join(args.data, c, "model.onnx")))
    if args.filter:
        cases = [c for c in cases if args.filter in c]
    todo = queue.Queue()
    for c in cases:
        todo.put(c)
    argv = [sys.executable, os.path.abspath(__file__), "--worker", "--backend", args.backend,
            "--data", args.data, "--lib", args.lib or "", "--ort", args.ort or ""]
    results, lock = [], threading.Lock()

    def drain():
        slot = Slot(argv)
        while True:
            try:
                case = todo.get_nowait()
            except queue.Empty:
                break
            r = slot.run(case)
            with lock:
                results.append(r)
        slot.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=drain) for _ in range(args.jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    results.sort(key=lambda r: r["case"])
    counts = collections.Counter(r["status"] for r in results)
    summary = {"backend": args.backend, "cases": len(results), "seconds": round(elapsed, 1),
               **{k: counts.get(k, 0) for k in ("pass", "fail", "error", "crash", "timeout", "skipped")}}
    print(json.dumps(summary))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summary": summary, "results": results}, f, indent=0)
    return 0


def cause(reason):
    """A short cause for grouping failures: the message without case-specific detail."""
    import re

    r = reason or ""
    r = re.sub(r"Load model from \S+ failed:", "", r)
    r = re.sub(r"/onnxruntime_src/\S+", "", r)
    r = re.sub(r"model `[^`]*`", "model", r)
    r = re.sub(r"`[^`]*`", "`…`", r)
    r = re.sub(r"\d+(\.\d+)?", "N", r)
    return r[:160]


def compare_runs(args):
    a, b = (json.load(open(p)) for p in args.compare)
    ra = {r["case"]: r for r in a["results"]}
    rb = {r["case"]: r for r in b["results"]}
    na, nb = a["summary"]["backend"], b["summary"]["backend"]
    print(f"{na}: {a['summary']}")
    print(f"{nb}: {b['summary']}")
    only_b = sorted(c for c in rb if rb[c]["status"] == "pass" and ra.get(c, {}).get("status") != "pass")
    only_a = sorted(c for c in ra if ra[c]["status"] == "pass" and rb.get(c, {}).get("status") != "pass")
    print(f"\npassed by {nb} and not by {na}: {len(only_b)}")
    for c in only_b:
        print(f"  {c}: {ra.get(c, {}).get('status')}: {ra.get(c, {}).get('reason')}")
    print(f"\npassed by {na} and not by {nb}: {len(only_a)}")
    for c in only_a:
        print(f"  {c}")
    groups = collections.defaultdict(list)
    for c, r in ra.items():
        if r["status"] != "pass":
            groups[(r["status"], cause(r.get("reason")))].append(c)
    print(f"\nnot passed by {na}, grouped by cause:")
    for (status, why), cs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        print(f"  {len(cs):4d}  {status}: {why}")
        print(f"        e.g. {', '.join(cs[:4])}")
    bad = [c for c, r in ra.items() if r["status"] in ("crash", "timeout")]
    if bad:
        print(f"\n{na} crashed or timed out on {len(bad)} cases: {', '.join(bad)}")
    if args.require_superset and (only_b or bad):
        return 1
    if args.require_no_crash and bad:
        return 1
    return 0


def self_test(args):
    """A worker that aborts on one case costs that case only."""
    import tempfile

    victim = "test_add_bcast"
    os.environ["CONFORMANCE_ABORT_ON"] = victim
    with tempfile.TemporaryDirectory() as d:
        args.json, args.filter = os.path.join(d, "r.json"), "test_add"
        run_all(args)
        results = {r["case"]: r for r in json.load(open(args.json))["results"]}
    crashed = sorted(c for c, r in results.items() if r["status"] == "crash")
    others = [r["status"] for c, r in results.items() if c != victim]
    ok = crashed == [victim] and len(others) >= 5 and all(s == "pass" for s in others)
    print(f"self-test: {'ok' if ok else 'FAILED'}: crashed {crashed}, then {len(others)} other cases: {sorted(set(others))}")
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=["inferkit", "tract", "onnxruntime"],
                   help="inferkit on ONNX Runtime, inferkit on tract (a library built with it), onnxruntime's Python API")
    p.add_argument("--lib", help="libinferkit.so (inferkit backend)")
    p.add_argument("--ort", help="ONNX Runtime shared library for inferkit to load")
    p.add_argument("--data", help="the node test folder (default: the onnx wheel's)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--filter", help="only cases whose name contains this")
    p.add_argument("--json", help="write every case's result here")
    p.add_argument("--compare", nargs=2, metavar=("A.json", "B.json"))
    p.add_argument("--require-superset", action="store_true",
                   help="with --compare: fail unless A passes every case B passes, without crashes")
    p.add_argument("--require-no-crash", action="store_true",
                   help="with --compare: fail when A crashed or timed out on any case")
    p.add_argument("--self-test", action="store_true", help="check that a crashing case costs only itself")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.compare:
        return compare_runs(args)
    if not args.data:
        import onnx

        args.data = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "node")
    if args.worker:
        try:
            worker(args)
        except Exception:
            traceback.print_exc()
            return 3
        return 0
    if args.backend is None:
        p.error("--backend or --compare is required")
    if args.self_test:
        return self_test(args)
    return run_all(args)


if __name__ == "__main__":
    sys.exit(main())
