#!/bin/sh
# Makes examples/brightbrew/, the example asset folder of the README's demo
# (the job's `product` and `logo` inputs are the front shot and the logo):
# two more product shots (the bottle of examples/assets/product.png narrower
# as if turned, and its label close up), two short clips drawn by FFmpeg's sources (amber light swirling, for "poured"
# scenes; city lights, for the commute), the brand font (DejaVu Serif Bold,
# from fonts-dejavu-core) and kino-assets.toml (tags, descriptions, palette,
# font). Nothing is downloaded; run it again to remake the folder.
set -eu
cd "$(dirname "$0")"
OUT=brightbrew
FONT_DIR=${KINO_FONT_DIR:-/usr/share/fonts/truetype/dejavu}
mkdir -p "$OUT"
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }

rm -f "$OUT/bottle-front.png" "$OUT/logo.png"
# Turned: the bottle narrower, still on a transparent canvas.
ff -i assets/product.png -vf "scale=380:1000:flags=lanczos,pad=600:1000:110:0:color=black@0" "$OUT/bottle-side.png"
# The label close up, opaque: a full-frame still.
ff -i assets/product.png -vf "crop=420:300:90:450,scale=1280:914:flags=lanczos,format=rgb24" "$OUT/label-closeup.png"
# Amber light swirling over dark roast: a stand-in for pouring footage.
ff -f lavfi -i "gradients=s=1280x720:c0=0x2a1408:c1=0xc8843c:c2=0xfff4e0:x0=200:y0=100:x1=1000:y1=600:speed=0.03:rate=24:duration=6" \
  -c:v libx264 -preset veryfast -crf 23 -pix_fmt yuv420p "$OUT/amber-swirl.mp4"
# City lights at dusk, abstract: Conway's life in the brand's amber on navy.
ff -f lavfi -i "life=s=320x180:mold=10:rate=24:ratio=0.12:death_color=#10233f:life_color=#f2a541,scale=1280:720:flags=neighbor" \
  -t 6 -c:v libx264 -preset veryfast -crf 23 -pix_fmt yuv420p "$OUT/city-lights.mp4"
cp "$FONT_DIR/DejaVuSerif-Bold.ttf" "$OUT/brand-serif.ttf"

cat > "$OUT/kino-assets.toml" <<'TOML'
# The Brightbrew asset folder (made by examples/make-asset-folder.sh).
palette = ["#c8843c", "#4a2410", "#fff4e0"]
font = "brand-serif"

[[asset]]
file = "bottle-side.png"
tags = ["product", "side", "bottle"]
description = "the bottle turned to the side"

[[asset]]
file = "label-closeup.png"
tags = ["product", "detail", "label"]
description = "the label close up: cold brew concentrate, 16 cups"

[[asset]]
file = "amber-swirl.mp4"
tags = ["in-use", "pour", "coffee"]
description = "amber coffee swirling as it is poured over ice, in use"

[[asset]]
file = "city-lights.mp4"
tags = ["lifestyle", "commute", "city", "people"]
description = "city lights on the morning commute of busy young professionals"

[[asset]]
file = "brand-serif.ttf"
tags = ["font"]
description = "the brand's serif for on-screen text"
TOML
