"""The Linux package: its icons, menu entry and software-centre page pass the freedesktop validators,
and a package built from a stand-in bundle installs, runs its launcher and uninstalls cleanly.

The real bundle takes 20 minutes or more to build; scripts/check_package.sh checks the real package
in a clean Debian. Here a shell script stands in for the bundle's executable, so the suite checks
everything the package adds around it.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
spec = importlib.util.spec_from_file_location("linux_package", ROOT / "scripts" / "linux_package.py")
linux_package = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
spec.loader.exec_module(linux_package)  # type: ignore[union-attr]
icons = linux_package.icons
# .ci/run installs the Debian tools; elsewhere a missing one skips its test, named in the summary.
REQUIRED = os.environ.get("SYNTHSCOPE_PACKAGING_TOOLS") == "required"


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if REQUIRED:
            pytest.fail(f"{name} is not installed (Debian: apt-get install desktop-file-utils appstream dpkg)")
        pytest.skip(f"{name} is not installed (Debian: apt-get install desktop-file-utils appstream)")
    return path


def decoded(png: bytes) -> QImage:
    image = QImage.fromData(png, "PNG")
    assert not image.isNull()
    return image


def assert_is_the_icon(image: QImage) -> None:
    """The icon's blue rounded square fills the middle; the corners stay see-through."""
    middle = image.pixelColor(image.width() // 2, image.height() // 5)
    assert middle.alpha() == 255 and middle.blue() > middle.red()
    assert image.pixelColor(0, 0).alpha() == 0


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in for build/dist/synthscope/: an executable that says how it was called."""
    folder = tmp_path_factory.mktemp("bundle") / "synthscope"
    (folder / "_internal").mkdir(parents=True)
    (folder / "_internal" / "data.txt").write_text("part of the bundle\n")
    (folder / "synthscope").write_text('#!/bin/sh\necho "stand-in synthscope $*"\n')
    (folder / "synthscope").chmod(0o755)
    return folder


@pytest.fixture(scope="module")
def staged(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return linux_package.stage(bundle, tmp_path_factory.mktemp("stage") / "root", "0.1.0", "amd64",
                               ["libc6 (>= 2.36)"], date="2026-12-04")


def test_the_hicolor_icons_are_drawn_at_every_size(staged: Path) -> None:
    hicolor = staged / "usr" / "share" / "icons" / "hicolor"
    for size in icons.HICOLOR_SIZES:
        image = decoded((hicolor / f"{size}x{size}" / "apps" / "synthscope.png").read_bytes())
        assert (image.width(), image.height()) == (size, size)
        assert_is_the_icon(image)
    assert (hicolor / "scalable" / "apps" / "synthscope.svg").read_bytes() == icons.SVG.read_bytes()


def test_the_windows_icon_holds_each_size_as_png() -> None:
    data = icons.ico_bytes()
    reserved, kind, count = struct.unpack_from("<HHH", data)
    assert (reserved, kind, count) == (0, 1, len(icons.ICO_SIZES))
    for index, size in enumerate(icons.ICO_SIZES):
        width, height, _, _, _, bits, length, offset = struct.unpack_from("<BBBBHHII", data, 6 + 16 * index)
        assert (width or 256, height or 256, bits) == (size, size, 32)
        image = decoded(data[offset:offset + length])
        assert image.width() == size
    assert offset + length == len(data)


def test_the_mac_icon_holds_each_size_as_png() -> None:
    data = icons.icns_bytes()
    assert data[:4] == b"icns" and struct.unpack_from(">I", data, 4)[0] == len(data)
    at, sizes = 8, {}
    while at < len(data):
        kind, length = data[at:at + 4], struct.unpack_from(">I", data, at + 4)[0]
        sizes[kind] = decoded(data[at + 8:at + length]).width()
        at += length
    assert at == len(data)
    assert sizes == {kind: size for size, kind in icons.ICNS_TYPES.items()}


def test_the_menu_entry_passes_desktop_file_validate(staged: Path) -> None:
    entry = staged / "usr" / "share" / "applications" / f"{linux_package.APP_ID}.desktop"
    done = subprocess.run([tool("desktop-file-validate"), str(entry)], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout + done.stderr == "", done.stdout + done.stderr
    text = entry.read_text()
    assert "Exec=synthscope\n" in text and "Icon=synthscope\n" in text


def test_the_software_centre_page_passes_appstreamcli_validate(staged: Path) -> None:
    page = staged / "usr" / "share" / "metainfo" / f"{linux_package.APP_ID}.metainfo.xml"
    done = subprocess.run([tool("appstreamcli"), "validate", "--no-net", "--pedantic", str(page)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    # Only the pedantic note that the ID has capitals (as org.gnome.TextEditor has) is allowed.
    notes = [line for line in done.stdout.splitlines() if line[:2] in ("E:", "W:", "I:", "P:")]
    assert all("cid-contains-uppercase-letter" in line for line in notes), done.stdout


def test_the_page_shows_the_readme_screenshots_and_this_version(staged: Path) -> None:
    page = (staged / "usr" / "share" / "metainfo" / f"{linux_package.APP_ID}.metainfo.xml").read_text()
    shots = linux_package.readme_screenshots()
    readme = (ROOT / "README.md").read_text()
    assert len(shots) == len({line.split("](")[1] for line in readme.splitlines() if line.strip().startswith("![")})
    for caption, path in shots:
        assert (ROOT / path).is_file()
        assert f"<caption>{caption}</caption>" in page and path in page
    assert page.count("<screenshot") == len(shots) + 1  # one <screenshots> around them
    version = linux_package.project_facts()["version"]
    assert '<release version="0.1.0" date="2026-12-04"/>' in page and version == "0.1.0"


def test_the_app_tells_the_desktop_its_menu_entry() -> None:
    from synthscope.ui.app import DESKTOP_FILE_NAME
    assert (linux_package.LINUX_FILES / f"{DESKTOP_FILE_NAME}.desktop").is_file()
    assert DESKTOP_FILE_NAME == linux_package.APP_ID


def test_depends_name_the_packages_that_own_the_linked_libraries(tmp_path: Path) -> None:
    tool("dpkg")
    folder = tmp_path / "synthscope"
    folder.mkdir()
    shutil.copy(shutil.which("true") or "/bin/true", folder / "synthscope")  # a real program: links to libc
    (folder / "notes.txt").write_text("not a program\n")
    depends = linux_package.system_depends(folder)
    assert any(entry.startswith("libc6 (>= ") for entry in depends)
    assert depends[-len(linux_package.EXTRA_DEPENDS):] == list(linux_package.EXTRA_DEPENDS)


def test_a_library_missing_on_the_build_machine_stops_the_package_with_its_name(tmp_path: Path) -> None:
    tool("dpkg")
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to make a program that links to a missing library")
    (tmp_path / "gone.c").write_text("int gone(void) { return 1; }\n")
    (tmp_path / "main.c").write_text("int gone(void);\nint main(void) { return gone(); }\n")
    subprocess.run([compiler, "-shared", "-fPIC", "-o", tmp_path / "libgone.so", tmp_path / "gone.c"], check=True)
    folder = tmp_path / "bundle"
    folder.mkdir()
    subprocess.run([compiler, "-o", folder / "synthscope", tmp_path / "main.c", f"-L{tmp_path}", "-lgone"],
                   check=True)
    with pytest.raises(SystemExit, match="libgone.so"):
        linux_package.system_depends(folder)


def test_the_package_installs_runs_and_uninstalls_leaving_nothing(bundle: Path, tmp_path: Path) -> None:
    dpkg = tool("dpkg")
    tool("dpkg-deb")
    deb = linux_package.build_deb(bundle, tmp_path / "out", depends=["libc6 (>= 2.36)"])
    assert deb.name == f"synthscope_0.1.0_{linux_package.debian_arch()}.deb"
    fields = subprocess.run(["dpkg-deb", "--field", str(deb), "Package", "Version", "Depends", "Section"],
                            capture_output=True, text=True, check=True).stdout
    assert "Package: synthscope\nVersion: 0.1.0\n" in fields and "libc6 (>= 2.36)" in fields
    contents = subprocess.run(["dpkg-deb", "--contents", str(deb)], capture_output=True, text=True,
                              check=True).stdout.splitlines()
    assert all(" root/root " in line for line in contents)  # whoever built it, root owns the files

    root = tmp_path / "root"
    admin = root / "var" / "lib" / "dpkg"
    for sub in ("info", "updates", "triggers"):
        (admin / sub).mkdir(parents=True)
    (admin / "status").write_text("")
    base = [dpkg, f"--root={root}", f"--admindir={admin}", "--log=/dev/null", "--force-depends",
            "--force-not-root", "--force-script-chrootless"]
    subprocess.run([*base, "--install", str(deb)], check=True, capture_output=True)
    listed = subprocess.run([*base, "--listfiles", "synthscope"], capture_output=True, text=True,
                            check=True).stdout.split()
    for wanted in ("/opt/synthscope/synthscope", "/opt/synthscope/_internal/data.txt", "/usr/bin/synthscope",
                   f"/usr/share/applications/{linux_package.APP_ID}.desktop",
                   f"/usr/share/metainfo/{linux_package.APP_ID}.metainfo.xml",
                   "/usr/share/icons/hicolor/48x48/apps/synthscope.png", "/usr/share/doc/synthscope/copyright"):
        assert wanted in listed and (root / wanted.lstrip("/")).exists(), wanted
    launcher = (root / "usr" / "bin" / "synthscope").read_text()
    assert launcher.startswith("#!/bin/sh") and 'exec /opt/synthscope/synthscope "$@"' in launcher
    assert os.access(root / "usr" / "bin" / "synthscope", os.X_OK)
    # The launcher as the package installed it, pointed at the installed folder instead of /opt.
    relocated = launcher.replace("/opt/synthscope", str(root / "opt" / "synthscope"))
    ran = subprocess.run(["sh", "-c", relocated, "synthscope", "--smoke-test"], capture_output=True, text=True)
    assert ran.stdout == "stand-in synthscope --smoke-test\n"

    subprocess.run([*base, "--purge", "synthscope"], check=True, capture_output=True)
    left = sorted(str(p.relative_to(root)) for p in root.rglob("*") if admin not in [p, *p.parents])
    assert left == ["var", "var/lib"], left


def test_the_package_uses_the_system_s_x11_keyboard_and_font_libraries(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    internal = tmp_path / "opt" / "_internal"
    internal.mkdir(parents=True)
    system = ["libxcb-cursor.so.0", "libxkbcommon-x11.so.0", "libxkbcommon.so.0", "libX11-xcb.so.1",
              "libfontconfig.so.1", "libfreetype.so.6"]
    own = ["libQt6XcbQpa.so.6", "libpython3.11.so.1.0", "libxcb-unknown-to-dpkg.so.0"]
    for name in system + own:
        (internal / name).write_bytes(b"library")
    monkeypatch.setattr(linux_package, "_owner_of_name", lambda name: "unknown" not in name)
    removed = linux_package.use_system_libraries(tmp_path / "opt")
    assert sorted(removed) == sorted(system)
    assert sorted(p.name for p in internal.iterdir()) == sorted(own)
