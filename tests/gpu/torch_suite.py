#!/usr/bin/env python3
"""The PyTorch part of scripts/gpu-check.sh: each case natively and through FastGPU in a vGPU.

    torch_suite.py --fastgpu BUILD/bin/fastgpu --quota BYTES [--deadline SECONDS] [--log FILE]
        runs every case both ways and prints one table row per case: "| name | result |".
    torch_suite.py --case NAME
        runs one case in this process and prints its results, one "key value..." line each.

Cases compare what native and remote runs print: exact where the same kernels on the same GPU
must give the same bits, within a stated tolerance where the library may choose algorithms by
timing (cuDNN), and against the vGPU where the answer must differ (device memory, OOM).
"""
import argparse
import math
import os
import re
import subprocess
import sys
import time


# ---- the cases, run inside the measured process ---------------------------------------------

def case_devices(torch):
    free, total = torch.cuda.mem_get_info()
    print("device_count", torch.cuda.device_count())
    print("total", total)
    print("free_le_total", int(free <= total))


def case_matmul(torch):
    torch.manual_seed(0)
    x = torch.randn(1024, 1024, device="cuda")
    y = x @ x
    half = x.half() @ x.half()
    print("sum", repr(y.double().sum().item()))
    print("corner", repr(y[0, 0].item()), repr(y[-1, -1].item()))
    print("half_sum", repr(half.double().sum().item()))


def case_cnn(torch):
    torch.manual_seed(0)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(32, 10)).cuda()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    images, labels = torch.randn(32, 3, 32, 32, device="cuda"), torch.randint(0, 10, (32,), device="cuda")
    for step in range(5):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        print("loss", step, repr(loss.item()))


def tiny_gpt(torch, vocab=256, width=128, heads=4, layers=2, context=64):
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
            self.attention = nn.MultiheadAttention(width, heads, batch_first=True)
            self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

        def forward(self, x):
            mask = torch.triu(torch.ones(x.shape[1], x.shape[1], device=x.device, dtype=torch.bool), 1)
            h = self.norm1(x)
            x = x + self.attention(h, h, h, attn_mask=mask, need_weights=False)[0]
            return x + self.mlp(self.norm2(x))

    class Gpt(nn.Module):
        def __init__(self):
            super().__init__()
            self.tokens, self.positions = nn.Embedding(vocab, width), nn.Embedding(context, width)
            self.blocks = nn.Sequential(*[Block() for _ in range(layers)])
            self.head = nn.Linear(width, vocab)

        def forward(self, idx):
            x = self.tokens(idx) + self.positions(torch.arange(idx.shape[1], device=idx.device))
            return self.head(self.blocks(x))

    return Gpt()


def case_gpt(torch):
    torch.manual_seed(0)
    model = tiny_gpt(torch).cuda()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    data = torch.randint(0, 256, (16, 65), device="cuda")
    steps, started = 300, None
    for step in range(steps):
        if step == 10:
            torch.cuda.synchronize()
            started = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        logits = model(data[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 256), data[:, 1:].reshape(-1))
        loss.backward()
        optimizer.step()
        if step % 20 == 0 or step == steps - 1:
            print("loss", step, repr(loss.item()))
    torch.cuda.synchronize()
    print("step_ms", (time.perf_counter() - started) * 1000 / (steps - 10))


def case_compile(torch):
    torch.manual_seed(0)
    x = torch.randn(4096, device="cuda")
    f = torch.compile(lambda t: torch.sin(t) * torch.cos(t) + t * t)
    print("sum", repr(f(x).double().sum().item()))


def case_reduce_overhead(torch):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 8)).cuda()
    compiled = torch.compile(model, mode="reduce-overhead")
    x = torch.randn(32, 64, device="cuda")
    with torch.no_grad():
        for _ in range(4):  # warm-up, record, replays
            y = compiled(x)
    print("sum", repr(y.double().sum().item()))


def case_cuda_graph(torch):
    # torch.cuda.graph as training loops and vLLM use it: static inputs, a captured step (a pool of
    # its own, so the capture allocates inside it), replays after copying new inputs in.
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 8)).cuda()
    static_x = torch.randn(32, 64, device="cuda")
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.no_grad(), torch.cuda.stream(side):
        for _ in range(3):  # warm-up on a side stream, as the PyTorch documentation does
            model(static_x)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.no_grad(), torch.cuda.graph(graph):
        static_y = model(static_x)
    sums = []
    for step in range(3):
        static_x.copy_(torch.full((32, 64), float(step), device="cuda"))
        graph.replay()
        sums.append(static_y.double().sum().item())
    with torch.no_grad():
        eager = model(static_x).double().sum().item()
    print("replays", repr(sums), "eager", repr(eager))


def allocations(torch):
    torch.manual_seed(0)
    tensors = [torch.randn(1 << 20, device="cuda") for _ in range(16)]
    del tensors[::2]
    more = [torch.ones(3 << 20, device="cuda") for _ in range(4)]
    print("sum", repr(sum(t.double().sum().item() for t in tensors + more)))
    print("reserved_positive", int(torch.cuda.memory_reserved() > 0))


def case_dataloader(torch):
    from torch.utils.data import DataLoader, TensorDataset
    torch.manual_seed(0)
    dataset = TensorDataset(torch.arange(256, dtype=torch.float32).reshape(64, 4))
    loader = DataLoader(dataset, batch_size=8, num_workers=2, multiprocessing_context="fork")
    total = torch.zeros((), device="cuda")
    torch.cuda.synchronize()  # CUDA is initialized before the workers fork, as in real programs
    for (batch,) in loader:
        total += batch.cuda().sum()
    print("sum", repr(total.item()))


def case_oom(torch):
    quota = int(os.environ["FASTGPU_CHECK_QUOTA"])
    try:
        weights = torch.empty(quota // 4 + (1 << 28), dtype=torch.float32, device="cuda")
        print("allocated", weights.numel())
    except torch.OutOfMemoryError as error:
        print("oom", type(error).__name__, str(error).splitlines()[0][:60])
    x = torch.ones(1024, device="cuda")  # the process is still usable
    print("after", repr(x.sum().item()))


# name -> (function, extra environment, how native and remote are compared)
CASES = {
    "devices": (case_devices, {}, "vgpu"),
    "matmul": (case_matmul, {}, "exact"),
    "cnn": (case_cnn, {}, "close"),
    "gpt": (case_gpt, {}, "close"),
    "dataloader": (case_dataloader, {}, "exact"),
    "compile": (case_compile, {}, "exact"),
    "oom": (case_oom, {}, "oom"),
    "reduce_overhead": (case_reduce_overhead, {}, "exact"),
    "cuda_graph": (case_cuda_graph, {}, "exact"),
    "expandable_segments": (allocations, {"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"}, "exact"),
    "cuda_malloc_async": (allocations, {"PYTORCH_CUDA_ALLOC_CONF": "backend:cudaMallocAsync"}, "exact"),
}
TITLES = {
    "devices": "PyTorch: device_count, mem_get_info show the vGPU",
    "matmul": "PyTorch: randn, matmul fp32/fp16 (cuBLAS)",
    "cnn": "PyTorch: CNN training steps (cuDNN)",
    "gpt": "PyTorch: GPT 300 AdamW steps, losses compared",
    "dataloader": "PyTorch: DataLoader with forked workers",
    "compile": "PyTorch: torch.compile (Triton)",
    "oom": "PyTorch: over-quota model -> OutOfMemoryError",
    "reduce_overhead": "PyTorch: compile reduce-overhead (CUDA graphs)",
    "cuda_graph": "PyTorch: torch.cuda.graph capture and replays",
    "expandable_segments": "PyTorch: expandable_segments:True",
    "cuda_malloc_async": "PyTorch: backend:cudaMallocAsync",
}
TOLERANCE = 1e-3  # relative, for "close": cuDNN/cuBLAS may pick other algorithms run to run


# ---- the harness ------------------------------------------------------------------------------

def run(command, env, timeout):
    started = time.perf_counter()
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
        return done.returncode, done.stdout, done.stderr, time.perf_counter() - started
    except subprocess.TimeoutExpired as expired:
        out = expired.stdout.decode() if isinstance(expired.stdout, bytes) else (expired.stdout or "")
        err = expired.stderr.decode() if isinstance(expired.stderr, bytes) else (expired.stderr or "")
        return None, out, err + f"\n(timed out after {timeout} s)", time.perf_counter() - started


def parse(stdout):
    return [line.split() for line in stdout.splitlines() if line.strip()]


def numbers_close(a, b):
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x == y:
            continue
        try:
            fx, fy = float(x), float(y)
        except ValueError:
            return False
        if not math.isclose(fx, fy, rel_tol=TOLERANCE, abs_tol=1e-6):
            return False
    return True


def compare(kind, native, remote, quota):
    """Returns (passed, detail)."""
    if kind == "vgpu":
        values = {row[0]: row[1:] for row in remote}
        ok = values.get("device_count") == ["1"] and values.get("total") == [str(quota)]
        return ok, f"remote: {' '.join(' '.join(r) for r in remote)}"
    if kind == "oom":
        names = [row for row in remote if row[0] == "oom"]
        ok = bool(names) and names[0][1] == "OutOfMemoryError" and ["after", "1024.0"] in remote
        return ok, " ".join(" ".join(r) for r in remote)[:120]
    timing = [r for r in native if r[0] == "step_ms"], [r for r in remote if r[0] == "step_ms"]
    native = [r for r in native if r[0] != "step_ms"]
    remote = [r for r in remote if r[0] != "step_ms"]
    if kind == "exact":
        ok = native == remote and bool(native)
    else:
        ok = len(native) == len(remote) and bool(native) and all(numbers_close(a, b) for a, b in zip(native, remote))
    detail = "identical" if native == remote else ("within %g" % TOLERANCE if ok else "DIFFERENT")
    if timing[0] and timing[1]:
        n, r = float(timing[0][0][1]), float(timing[1][0][1])
        detail += f"; step {r:.2f} ms remote vs {n:.2f} ms native ({r / n:.2f}x)"
    return ok, detail


def interesting(stderr):
    """The lines that say what FastGPU lacks: unimplemented functions, tables, the error."""
    keep = [line for line in stderr.splitlines()
            if re.search(r"not implemented|Error|error|fastgpu", line) and "Warning" not in line]
    return list(dict.fromkeys(keep))[-12:]


def why(stderr):
    """One line for the table: the exception, then what FastGPU said it does not implement."""
    errors = [line.strip() for line in stderr.splitlines() if re.match(r"\s*[\w.]*(Error|Exception)\b.*:", line)]
    missing = re.findall(r"warning: (\S+) is not implemented|(private driver table \d+ slot \d+) is not implemented",
                         stderr)
    names = list(dict.fromkeys(a or b for a, b in missing))
    parts = [errors[-1][:160]] if errors else ["no exception printed"]
    if names:
        parts.append("not implemented: " + ", ".join(names))
    if "timed out" in stderr[-100:]:
        parts.append(stderr.strip().splitlines()[-1])
    return "; ".join(parts)


def harness(args):
    deadline = time.monotonic() + args.deadline
    me = os.path.abspath(__file__)
    log = open(args.log, "a") if args.log else sys.stdout
    failed = False
    for name, (_, extra, kind) in CASES.items():
        title = TITLES[name]
        if time.monotonic() > deadline:
            print(f"| {title} | NOT RUN (the check's time ran out) |", flush=True)
            continue
        env = dict(os.environ, **extra, FASTGPU_CHECK_QUOTA=str(args.quota), PYTHONUNBUFFERED="1")
        native = (None, "", "", 0.0)
        if kind not in ("vgpu", "oom"):
            native = run([sys.executable, me, "--case", name], env, args.timeout)
            if native[0] != 0:
                print(f"| {title} | NATIVE FAILED (exit {native[0]}) |", flush=True)
                print(f"--- {name} native stderr\n" + native[2][-3000:], file=log, flush=True)
                continue
        remote = run([args.fastgpu, "run", "--", sys.executable, me, "--case", name],
                     dict(env, FASTGPU_STATS="1"), args.timeout)
        seconds = f"{remote[3]:.1f} s remote, {native[3]:.1f} s native" if native[3] else f"{remote[3]:.1f} s"
        if remote[0] != 0:
            failed = True
            print(f"| {title} | FAIL (exit {remote[0]}; {seconds}): {why(remote[2])} |", flush=True)
            print(f"--- {name} remote stderr (unique interesting lines)\n" + "\n".join(interesting(remote[2])),
                  file=log, flush=True)
            print(f"--- {name} remote stderr tail\n" + remote[2][-4000:], file=log, flush=True)
            continue
        ok, detail = compare(kind, parse(native[1]), parse(remote[1]), args.quota)
        failed |= not ok
        print(f"| {title} | {'PASS' if ok else 'FAIL'} ({detail}; {seconds}) |", flush=True)
        if not ok:
            print(f"--- {name}\nnative:\n{native[1]}\nremote:\n{remote[1]}\n{remote[2][-2000:]}", file=log, flush=True)
    return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=sorted(CASES))
    parser.add_argument("--fastgpu", help="the fastgpu command of the build or bundle")
    parser.add_argument("--quota", type=int, help="the vGPU's memory quota in bytes")
    parser.add_argument("--deadline", type=float, default=330, help="seconds for the whole suite")
    parser.add_argument("--timeout", type=float, default=150, help="seconds for one run of one case")
    parser.add_argument("--log", help="append failures' output here")
    args = parser.parse_args()
    if args.case:
        import torch
        CASES[args.case][0](torch)
        return 0
    if not args.fastgpu or not args.quota:
        parser.error("--fastgpu and --quota are needed to run the suite")
    return harness(args)


if __name__ == "__main__":
    sys.exit(main())
