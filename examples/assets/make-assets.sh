#!/bin/sh
# Regenerates the example assets of the fictional "Brightbrew cold brew
# concentrate" ad (examples/brief.toml): product.png (a bottle, alpha
# around it) and logo.png (a sun mark and the name, alpha around them).
# Needs the ffmpeg CLI with drawtext (libfreetype) and DejaVu Sans Bold
# (Debian: fonts-dejavu-core). Both are drawn at twice their size and
# scaled down with Lanczos, which anti-aliases the shape edges.
set -eu
cd "$(dirname "$0")"
FONT=${KINO_FONT_BOLD:-/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf}

# The bottle's half-width at row Y (2x canvas, 1200x2000, centre x=600):
# cap, neck, a smoothstep shoulder, the body, rounded bottom corners.
HW='if(lt(Y,230),160,if(lt(Y,400),140,if(lt(Y,660),140+220*(3*pow((Y-400)/260,2)-2*pow((Y-400)/260,3)),if(lt(Y,1840),360,280+sqrt(max(0,6400-pow(Y-1840,2)))))))'
# Cylindrical shading from the normalised column, plus a specular stripe.
XN="(X-600)/($HW)"
SHADE="(0.35+0.65*cos(1.2*$XN))"
SPEC="150*exp(-pow(($XN+0.55)/0.07,2))"
LABEL='between(Y,900,1500)'
BAND='between(Y,1330,1400)'
CAP='lt(Y,230)'
# Channel expression: cap colour, label colour (band inside it), amber glass.
ch() { echo "min(255,if($CAP,$1*$SHADE,if($LABEL,if($BAND,$3,$2)*(0.8+0.2*$SHADE),$4*$SHADE+$SPEC)))"; }
ffmpeg -hide_banner -loglevel error -y -f lavfi -i "color=c=black@0:s=1200x2000,format=rgba" -frames:v 1 \
  -vf "geq=r='$(ch 52 238 226 110)':g='$(ch 48 226 120 54)':b='$(ch 46 204 40 16)':a='255*between(Y,80,1920)*lt(abs(X-600),$HW)',\
drawtext=fontfile=$FONT:text=BRIGHTBREW:fontsize=86:fontcolor=0x4A2410:x=(w-text_w)/2:y=1020,\
drawtext=fontfile=$FONT:text=COLD BREW:fontsize=72:fontcolor=0x7A3A14:x=(w-text_w)/2:y=1150,\
drawtext=fontfile=$FONT:text=CONCENTRATE:fontsize=50:fontcolor=0x7A3A14:x=(w-text_w)/2:y=1240,\
drawtext=fontfile=$FONT:text=16 CUPS:fontsize=44:fontcolor=0xFFF4E0:x=(w-text_w)/2:y=1343,\
scale=600:1000:flags=lanczos" \
  product.png

# Logo (2x canvas 920x240): a striped setting sun and the name.
ffmpeg -hide_banner -loglevel error -y -f lavfi -i "color=c=black@0:s=920x240,format=rgba" -frames:v 1 \
  -vf "geq=r='250':g='150+60*(120-Y)/95':b='40':a='255*lt(hypot(X-120,Y-120),95)*if(gt(Y,122),lt(mod(Y-122,28),17),1)',\
drawtext=fontfile=$FONT:text=Brightbrew:fontsize=100:fontcolor=0xFAF5EB:shadowcolor=black@0.5:shadowx=3:shadowy=3:x=240:y=(h-text_h)/2,\
scale=460:120:flags=lanczos" \
  logo.png
