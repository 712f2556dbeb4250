#!/usr/bin/env python3
"""Generates FastGPU's view of the CUDA driver surface from the toolkit's headers.

The one source of truth is the set of `PFN_<name>_v<version>[_ptds|_ptsz]` typedefs in
`cudaTypedefs.h` and `cudaProfilerTypedefs.h`. From them this script derives, for every
exported driver symbol, its name, its typed signature and the (name, version, flags) keys under
which `cuGetProcAddress` hands it out. The rule (see docs/driver-abi.md):

  * sort the plain versions of a name ascending: the first is the plain symbol, the second
    `<name>_v2`, the third `<name>_v3`, ...;
  * a `_ptds`/`_ptsz` typedef names the per-thread form of the newest plain version at or
    below its own version: `<plain symbol>_ptds` or `_ptsz`.

Output (headers written into the build tree, never edited by hand):

  driver_api.inc  -- an X-macro list. Each line is
      FASTGPU_DRIVER_FN(symbol, pfnType, (typed params), (param names))
  error_codes.inc -- every CUresult: FASTGPU_CU_ERROR(name, value, "first sentence of its doc")
  proc_address_entries.inc -- the proc-address keys:
      {"name", version, FASTGPU_PER_THREAD or FASTGPU_LEGACY, FASTGPU_SYMBOL_INDEX(symbol)},

Python 3 standard library only.
"""
import argparse
import collections
import os
import re
import sys

TYPEDEF = re.compile(
    r"typedef\s+CUresult\s*\(\s*CUDAAPI\s*\*\s*PFN_(cu\w+?)_v(\d+)(_ptds|_ptsz)?\s*\)\s*\((.*?)\)\s*;",
    re.S)


def split_params(text):
    """Splits a C parameter list at top-level commas."""
    params, depth, cur = [], 0, ""
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            params.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        params.append(cur.strip())
    if params == ["void"]:
        return []
    return params


C_TYPE_WORDS = {"int", "char", "short", "long", "float", "double", "void", "unsigned", "signed"}


def param_name(param, index):
    match = re.search(r"([A-Za-z_]\w*)\s*$", param)
    if not match:
        raise SystemExit(f"cannot find the name of parameter '{param}'")
    name = match.group(1)
    type_part = param[: match.start()].strip()
    if not type_part or name in C_TYPE_WORDS or param.endswith("*"):
        # An unnamed parameter: the identifier is part of the type.
        return f"{param} arg{index}", f"arg{index}"
    return param, name


def plain_symbol(name, ordinal):
    return name if ordinal == 0 else f"{name}_v{ordinal + 1}"


def load(headers):
    typedefs = []
    for header in headers:
        with open(header, encoding="utf-8") as f:
            text = f.read()
        for name, version, suffix, params in TYPEDEF.findall(text):
            typedefs.append((name, int(version), suffix, " ".join(params.split())))
    return typedefs


def derive(typedefs):
    """Returns [(symbol, pfn, params)] and [(name, version, perThread, symbol)]."""
    plain = collections.defaultdict(list)
    for name, version, suffix, _ in typedefs:
        if not suffix:
            plain[name].append(version)
    for versions in plain.values():
        versions.sort()

    symbols, keys, seen = [], [], set()
    for name, version, suffix, params in typedefs:
        versions = plain[name]
        if suffix:
            candidates = [i for i, v in enumerate(versions) if v <= version]
            if not candidates:
                raise SystemExit(f"{name}_v{version}{suffix} has no plain version at or below it")
            symbol = plain_symbol(name, candidates[-1]) + suffix
        else:
            symbol = plain_symbol(name, versions.index(version))
        pfn = f"PFN_{name}_v{version}{suffix}"
        if symbol in seen:
            raise SystemExit(f"two typedefs map to symbol {symbol}")
        seen.add(symbol)
        symbols.append((symbol, pfn, params))
        keys.append((name, version, bool(suffix), symbol))
    return symbols, keys


ERROR_ENUM = re.compile(r"typedef enum cudaError_enum \{(.*?)\} CUresult;", re.S)
ERROR_ENTRY = re.compile(r"/\*\*(.*?)\*/\s*(CUDA_\w+)\s*=\s*(\d+)", re.S)


def load_errors(cuda_h):
    """Returns [(name, value, description)] from the CUresult enum's doc comments."""
    with open(cuda_h, encoding="utf-8") as f:
        body = ERROR_ENUM.search(f.read())
    if not body:
        raise SystemExit(f"{cuda_h}: no CUresult enum found")
    errors = []
    for doc, name, value in ERROR_ENTRY.findall(body.group(1)):
        text = " ".join(line.strip(" *") for line in doc.splitlines()).strip()
        text = re.sub(r"\s+", " ", text.replace("::", ""))
        sentence = text.split(". ")[0].rstrip(".")
        errors.append((name, int(value), sentence.replace("\\", "\\\\").replace('"', '\\"')))
    return errors


def write_if_changed(path, content):
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            if f.read() == content:
                return
    with open(path, "w", encoding="utf-8") as f:
        f.write(content)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--cuda-h", required=True, help="cuda.h, for the CUresult codes")
    parser.add_argument("headers", nargs="+", help="cudaTypedefs.h and cudaProfilerTypedefs.h")
    args = parser.parse_args()

    symbols, keys = derive(load(args.headers))
    symbols.sort()
    index = {symbol: i for i, (symbol, _, _) in enumerate(symbols)}
    banner = "// Generated by tools/codegen/gen_driver_api.py from the CUDA toolkit headers.\n" \
             "// Do not edit: change the generator.\n"

    api = [banner, f"// {len(symbols)} driver symbols.\n"]
    for symbol, pfn, params in symbols:
        parts = [param_name(p, i) for i, p in enumerate(split_params(params))]
        typed = ", ".join(p for p, _ in parts)
        names = ", ".join(n for _, n in parts)
        api.append(f"FASTGPU_DRIVER_FN({symbol}, {pfn}, ({typed}), ({names}))\n")

    entries = [banner]
    for name, version, per_thread, symbol in sorted(keys):
        kind = "FASTGPU_PER_THREAD" if per_thread else "FASTGPU_LEGACY"
        entries.append(f'{{"{name}", {version}, {kind}, {index[symbol]}}},  // {symbol}\n')

    errors = [banner]
    for name, value, text in load_errors(args.cuda_h):
        errors.append(f'FASTGPU_CU_ERROR({name}, {value}, "{text}")\n')

    os.makedirs(args.out, exist_ok=True)
    write_if_changed(os.path.join(args.out, "error_codes.inc"), "".join(errors))
    write_if_changed(os.path.join(args.out, "driver_api.inc"), "".join(api))
    write_if_changed(os.path.join(args.out, "proc_address_entries.inc"), "".join(entries))
    return 0


if __name__ == "__main__":
    sys.exit(main())
