"""The driver functions of the toolkit (from the generated driver_api.inc) and the ones a built
object or library defines (a strong, global text symbol, read with nm): shared by
gen_export_map.py and tools/coverage/driver_coverage.py. Standard library only."""
import re
import subprocess


def driver_functions(driver_api_inc):
    with open(driver_api_inc, encoding="utf-8") as source:
        return set(re.findall(r"FASTGPU_DRIVER_FN\((\w+),", source.read()))


def strong_definitions(paths, nm="nm", dynamic=False):
    command = [nm, *(["-D"] if dynamic else []), "--defined-only", *paths]
    listing = subprocess.run(command, check=True, capture_output=True, text=True)
    names = set()
    for line in listing.stdout.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[1] == "T":
            names.add(fields[2])
    return names
