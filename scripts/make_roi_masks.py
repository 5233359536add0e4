"""Draw the ROI masks used in docs/refinement.md (hand-placed ellipses/boxes on six Kodak images)."""

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "docs" / "roi"
# image: (size, [("ellipse"|"box", (x0, y0, x1, y1)), ...]) in full-resolution pixels
MASKS = {
    "kodim04": ((512, 768), [("ellipse", (140, 210, 360, 500))]),  # face
    "kodim06": ((768, 512), [("ellipse", (130, 270, 560, 390)), ("box", (300, 60, 360, 300))]),  # boat hull and mast
    "kodim23": ((768, 512), [("ellipse", (80, 160, 410, 512)), ("ellipse", (410, 100, 768, 512))]),  # parrots
    "kodim15": ((768, 512), [("ellipse", (300, 0, 705, 470))]),  # girl's face
    "kodim20": ((768, 512), [("ellipse", (80, 200, 760, 440)), ("box", (150, 60, 220, 260))]),  # aeroplane
    "kodim03": ((768, 512), [("ellipse", (60, 60, 500, 330)), ("ellipse", (400, 160, 768, 420))]),  # hats
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (size, shapes) in MASKS.items():
        m = Image.new("L", size, 0)
        d = ImageDraw.Draw(m)
        for kind, box in shapes:
            (d.ellipse if kind == "ellipse" else d.rectangle)(box, fill=255)
        m.save(OUT / f"{name}_mask.png", optimize=True)


if __name__ == "__main__":
    main()
