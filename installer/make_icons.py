"""Render the app icon resources/icons/exodeep.svg into the PNG sizes the desktops use
(exodeep-16.png … exodeep-512.png), a Windows .ico and a macOS .icns. Run after editing the SVG and
commit the results (the build does not render them):

    python installer/make_icons.py          # needs rsvg-convert (Debian: librsvg2-bin) and Pillow

The window icon is resources/icons/exodeep-256.png; install.sh installs the PNGs into the hicolor theme.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render(svg: Path = ICONS / "exodeep.svg", out: Path = ICONS) -> list:
    rsvg = shutil.which("rsvg-convert")
    if rsvg is None:
        raise SystemExit("make_icons: rsvg-convert not found (apt-get install librsvg2-bin)")
    from PIL import Image

    pngs = []
    for size in SIZES:
        png = out / f"exodeep-{size}.png"
        subprocess.run([rsvg, "-w", str(size), "-h", str(size), str(svg), "-o", str(png)], check=True)
        pngs.append(png)
    big = Image.open(out / "exodeep-512.png").convert("RGBA")
    # Windows: every size up to 256 in one .ico; macOS: Pillow writes the .icns sizes from the 512 px image
    big.save(out / "exodeep.ico", sizes=[(s, s) for s in SIZES if s <= 256])
    big.save(out / "exodeep.icns")
    return pngs + [out / "exodeep.ico", out / "exodeep.icns"]


if __name__ == "__main__":
    for path in render():
        print(f"{path} ({path.stat().st_size} bytes)")
    sys.exit(0)
