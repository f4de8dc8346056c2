"""Download the wheels bench/gpu/run.sh installs on a bare GPU machine (`make gpu-wheels`).

A GPU machine lent for the benchmark starts with PyTorch and transformers and no network. The
benchmark's code paths (`slmscale train`, the eval scorer, Hugging Face `Trainer`, `slmscale units
pretrain`) also import pydantic, typer, rich, accelerate and the audio readers soundfile and soxr: this downloads those and everything they need that torch
and transformers' core dependencies do not already bring, pinned to the versions installed here
(the ones the tests ran with), as binary wheels for several CPython versions. It writes
DEST/requirements.txt, the list run.sh installs with `pip install --no-index --no-deps`.
The project itself is not packaged: run.sh runs the clone's own source (PYTHONPATH=src), so the
wheels never go stale against the code being measured.

    python bench/gpu/wheels.py bench/gpu/wheels [--python 3.10,3.11,3.12,3.13]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# What the benchmark imports beyond torch and transformers. typing-extensions is shipped too,
# although torch has it, because recent pydantic needs a newer one than older torch installs carry.
# soundfile and soxr: `units pretrain` reads audio through slmscale.audio (the H200 image of
# 2026-11-30 had neither, and its pretrain section failed on `import soundfile`).
ROOTS = ("pydantic", "typer", "rich", "accelerate", "typing-extensions", "soundfile", "soxr")
# On the machine already: torch and the dependencies every transformers 4.x/5.x release has.
PROVIDED = ("torch", "huggingface-hub", "numpy", "packaging", "pyyaml", "regex", "safetensors", "tokenizers",
            "tqdm")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


def requires(name: str) -> list[str]:
    """Installed requirements of a distribution that apply without extras, on this platform."""
    out = []
    for spec in metadata.requires(name) or []:
        req = Requirement(spec)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            out.append(req.name)
    return out


def closure(names: tuple[str, ...], stop: set[str] = frozenset()) -> set[str]:
    seen: set[str] = set()
    todo = [canonicalize_name(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen or name in stop:
            continue
        seen.add(name)
        todo += [canonicalize_name(r) for r in requires(name)]
    return seen


def pinned() -> list[str]:
    roots = {canonicalize_name(n) for n in ROOTS}
    provided = closure(PROVIDED) - roots
    return sorted(f"{n}=={metadata.version(n)}" for n in closure(ROOTS, provided))


def download(req: str, version: str, dest: Path) -> bool:
    plat = [a for p in PLATFORMS for a in ("--platform", p)]
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
           "--dest", str(dest), "--implementation", "cp", "--python-version", version, *plat, req]
    return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dest", type=Path)
    ap.add_argument("--python", default="3.10,3.11,3.12,3.13", help="CPython versions to fetch wheels for")
    args = ap.parse_args()
    args.dest.mkdir(parents=True, exist_ok=True)
    reqs = pinned()
    for version in args.python.split(","):
        for req in reqs:
            # The version tested here, or (e.g. typer on 3.10) the newest release for that Python.
            if not download(req, version, args.dest) and not download(req.split("==")[0], version, args.dest):
                raise SystemExit(f"error: no {req.split('==')[0]} wheel for CPython {version} on {PLATFORMS[0]}")
    # Names only: pip takes the highest version in the folder that the running Python accepts.
    (args.dest / "requirements.txt").write_text("".join(r.split("==")[0] + "\n" for r in reqs))
    size = sum(f.stat().st_size for f in args.dest.iterdir()) / 2**20
    print(f"{args.dest}: {len(reqs)} packages for CPython {args.python} ({size:.1f} MiB); "
          f"copy it to the GPU machine's clone and run `bash bench/gpu/run.sh OUT`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
