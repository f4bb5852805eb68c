"""Turn the one-folder bundle (build/dist/synthscope/) into a Debian package a file manager installs.

    python scripts/linux_package.py BUNDLE_DIR OUT_DIR    writes OUT_DIR/synthscope_VERSION_ARCH.deb

The package holds the bundle under /opt/synthscope, a launcher on the PATH (/usr/bin/synthscope),
the freedesktop menu entry, the icon in the hicolor theme at every size, and the AppStream page a
software centre shows. Its dependencies are the system libraries the bundle's own libraries link
to and that the bundle does not carry (found with ldd, named with dpkg -S), so a software centre
installs them with it; the X11, keyboard and font libraries come from the system, not the bundle. It has no maintainer scripts: dpkg's triggers refresh the menu and icon
caches, and removing the package removes every file it brought.
"""
from __future__ import annotations

import datetime
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import icons  # noqa: E402 - the sibling script

ROOT = Path(__file__).resolve().parents[1]
APP_ID = "io.github.synthscope.Synthscope"
PACKAGE = "synthscope"
INSTALL_DIR = Path("/opt/synthscope")
LINUX_FILES = ROOT / "resources" / "linux"
DESKTOP_FILE = LINUX_FILES / f"{APP_ID}.desktop"
METAINFO_FILE = LINUX_FILES / f"{APP_ID}.metainfo.xml"
LAUNCHER = f'#!/bin/sh\n# Synthscope, installed by its package under {INSTALL_DIR}.\nexec {INSTALL_DIR}/synthscope "$@"\n'
# The bundle's copies of these are left out of the package, which depends on the system's instead.
SYSTEM_LIBRARIES = re.compile(r"^(libxcb-[\w-]+|libX11-xcb|libxkbcommon(-x11)?|libfontconfig|libfreetype)\.so\.\d+$")
CAPTION_MAX = 80  # AppStream's validator calls longer captions too long
SCREENSHOT = re.compile(r"!\[([^\]]+)\]\((docs/screenshots/[\w.-]+\.png)\)")
# What Qt reads at run time, so ldd cannot see it: a font for the text (a minimal system has
# none) and fontconfig's configuration, which the bundled libfontconfig looks for in /etc/fonts.
EXTRA_DEPENDS = ("fontconfig-config", "fonts-dejavu-core | fonts-liberation2 | fonts-freefont-ttf")


def project_facts() -> dict[str, str]:
    """Version, description and web addresses, read from pyproject.toml (declared once, there)."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    urls = project.get("urls", {})
    return {"version": project["version"], "description": project["description"],
            "homepage": urls.get("Homepage", ""), "issues": urls.get("Issues", "")}


def readme_screenshots(readme: Path = ROOT / "README.md") -> list[tuple[str, str]]:
    """(caption, path) of every screenshot the README shows, in its order, each once; a long
    caption is cut at its colon ("Chat mode: two turns with …" → "Chat mode")."""
    seen: dict[str, str] = {}
    for caption, path in SCREENSHOT.findall(readme.read_text()):
        if len(caption) > CAPTION_MAX:
            caption = caption.split(":", 1)[0]
        seen.setdefault(path, caption)
    return [(caption, path) for path, caption in seen.items()]


def screenshot_url(homepage: str, path: str) -> str:
    """Where a software centre fetches a README screenshot: the file as published on the homepage's repository."""
    match = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+)/?", homepage)
    if match:
        return f"https://raw.githubusercontent.com/{match[1]}/main/{path}"
    return f"{homepage.rstrip('/')}/{path}"


def metainfo(version: str, date: str, facts: dict[str, str] | None = None) -> str:
    facts = facts or project_facts()
    urls = [f'<url type="homepage">{html.escape(facts["homepage"])}</url>'] if facts["homepage"] else []
    if facts["issues"]:
        urls.append(f'<url type="bugtracker">{html.escape(facts["issues"])}</url>')
    shots = []
    for index, (caption, path) in enumerate(readme_screenshots()):
        kind = ' type="default"' if index == 0 else ""
        shots.append(f"    <screenshot{kind}>\n      <caption>{html.escape(caption, quote=False)}</caption>\n"
                     f"      <image>{html.escape(screenshot_url(facts['homepage'], path))}</image>\n"
                     "    </screenshot>")
    screenshots = "<screenshots>\n" + "\n".join(shots) + "\n  </screenshots>" if shots else ""
    return (METAINFO_FILE.read_text().replace("@URLS@", "\n  ".join(urls))
            .replace("@SCREENSHOTS@", screenshots).replace("@VERSION@", version).replace("@DATE@", date))


def _is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return file.read(4) == b"\x7fELF"
    except OSError:
        return False


def linked_system_libraries(bundle: Path) -> tuple[set[Path], set[str]]:
    """The libraries outside the bundle that its ELF files link to, and the names ldd found nowhere."""
    bundle = bundle.resolve()
    outside: set[Path] = set()
    missing: set[str] = set()
    for path in sorted(bundle.rglob("*")):
        if path.is_symlink() or not path.is_file() or not _is_elf(path):
            continue
        done = subprocess.run(["ldd", str(path)], capture_output=True, text=True,
                              env={**os.environ, "LD_LIBRARY_PATH": f"{path.parent}:{bundle / '_internal'}"})
        for line in done.stdout.splitlines():
            name, _, where = line.strip().partition(" => ")
            if where.startswith("not found"):
                missing.add(name)
            elif where.startswith("/"):
                target = Path(where.split(" (", 1)[0]).resolve()
                if bundle not in target.parents:
                    outside.add(target)
    return outside, missing


def _owner(library: Path) -> str | None:
    """The Debian package a library file belongs to (usr-merged systems list /lib and /usr/lib apart)."""
    text = str(library)
    for candidate in (text, text.removeprefix("/usr") if text.startswith("/usr/") else "/usr" + text):
        done = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if done.returncode == 0:
            return done.stdout.split(":", 1)[0].strip()
    return None


def _upstream_version(package: str) -> str:
    done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True)
    version = done.stdout.strip().split(":", 1)[-1]
    return re.split(r"[-+~]", version, maxsplit=1)[0]


def system_depends(bundle: Path) -> list[str]:
    """The package's Depends: who owns each system library the bundle links to, at least this version."""
    outside, missing = linked_system_libraries(bundle)
    if missing:
        raise SystemExit("linux_package.py: the bundle links to libraries this machine lacks, so the package "
                         f"cannot name them: {', '.join(sorted(missing))}. Install them (apt-get install …) "
                         "and build the bundle again.")
    owners: set[str] = set()
    for library in outside:
        owner = _owner(library)
        if owner is None:
            raise SystemExit(f"linux_package.py: no Debian package owns {library}, which the bundle links to.")
        owners.add(owner)
    return [f"{name} (>= {_upstream_version(name)})" for name in sorted(owners)] + list(EXTRA_DEPENDS)


def use_system_libraries(opt: Path) -> list[str]:
    """Remove the bundle's copies of the X11, keyboard and font libraries, so the package depends
    on the distribution's own: they read the system's data (keyboard layouts, font settings) and
    get its security updates. Returns the names removed."""
    removed = []
    for path in sorted((opt / "_internal").glob("*.so.*")):
        if SYSTEM_LIBRARIES.match(path.name) and _owner_of_name(path.name):
            path.unlink()
            removed.append(path.name)
    return removed


def _owner_of_name(name: str) -> bool:
    """Whether a Debian package of this machine has a library of that name (so Depends can name it)."""
    return subprocess.run(["dpkg", "-S", f"*/{name}"], capture_output=True).returncode == 0


def _installed_size_kib(tree: Path) -> int:
    return sum(p.lstat().st_size for p in tree.rglob("*") if not p.is_dir()) // 1024 + 1


def control(version: str, arch: str, depends: list[str], size_kib: int, facts: dict[str, str]) -> str:
    lines = [f"Package: {PACKAGE}", f"Version: {version}", f"Architecture: {arch}",
             "Maintainer: The Synthscope developers <synthscope@users.noreply.github.com>",
             f"Installed-Size: {size_kib}", "Section: education", "Priority: optional"]
    if depends:
        lines.append("Depends: " + ", ".join(depends))
    if facts["homepage"]:
        lines.append(f"Homepage: {facts['homepage']}")
    lines += [f"Description: {facts['description']}",
              " Synthscope runs a small language model on this computer, fully offline, and shows",
              " for every word piece the model's chances, what each sampler setting did to them,",
              " the dice roll and why that word won. A small model (SmolLM2-135M) is included."]
    return "\n".join(lines) + "\n"


def stage(bundle: Path, root: Path, version: str, arch: str, depends: list[str] | None = None,
          facts: dict[str, str] | None = None, date: str | None = None) -> Path:
    """Lay out the package's files under `root` (the future /), with DEBIAN/control; `depends`
    None: the system libraries the staged bundle links to (system_depends)."""
    facts = facts or project_facts()
    date = date or datetime.date.today().isoformat()
    opt = root / INSTALL_DIR.relative_to("/")
    shutil.copytree(bundle, opt, symlinks=True)
    if depends is None:
        use_system_libraries(opt)
        depends = system_depends(opt)
    usr = root / "usr"
    (usr / "bin").mkdir(parents=True)
    (usr / "bin" / PACKAGE).write_text(LAUNCHER)
    (usr / "bin" / PACKAGE).chmod(0o755)
    share = usr / "share"
    (share / "applications").mkdir(parents=True)
    shutil.copy(DESKTOP_FILE, share / "applications")
    (share / "metainfo").mkdir()
    (share / "metainfo" / METAINFO_FILE.name).write_text(metainfo(version, date, facts))
    icons.write_hicolor(share / "icons")
    (share / "doc" / PACKAGE).mkdir(parents=True)
    shutil.copy(ROOT / "LICENSE", share / "doc" / PACKAGE / "copyright")
    for path in [root, *root.rglob("*")]:  # what dpkg expects, whatever the umask was
        if not path.is_symlink():
            executable = path.is_dir() or path.stat().st_mode & 0o111
            path.chmod(0o755 if executable else 0o644)
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN" / "control").write_text(control(version, arch, depends, _installed_size_kib(root), facts))
    return root


def debian_arch() -> str:
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()


def build_deb(bundle: Path, out_dir: Path, depends: list[str] | None = None) -> Path:
    """Stage the bundle and pack it with dpkg-deb; returns OUT_DIR/synthscope_VERSION_ARCH.deb."""
    if not (bundle / "synthscope").is_file():
        raise SystemExit(f"linux_package.py: {bundle} holds no synthscope executable; run scripts/build_bundle.sh")
    facts = project_facts()
    arch = debian_arch()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{PACKAGE}_{facts['version']}_{arch}.deb"
    with tempfile.TemporaryDirectory(dir=out_dir) as scratch:
        root = stage(bundle, Path(scratch) / "root", facts["version"], arch, depends, facts)
        subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(target)],
                       check=True, stdout=subprocess.DEVNULL)
    return target


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python scripts/linux_package.py BUNDLE_DIR OUT_DIR", file=sys.stderr)
        return 2
    target = build_deb(Path(argv[0]), Path(argv[1]))
    print(f"Package: {target} ({target.stat().st_size / 1e6:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
