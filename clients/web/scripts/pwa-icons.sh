#!/usr/bin/env bash
# Draws the web app's icons (public/icons) with ImageMagick: a white speech bubble with a padlock
# on Hush blue. "any" icons have rounded corners; the maskable ones fill the square and keep the
# drawing inside the central 80 % safe zone (W3C Web App Manifest, "icon masks").
set -euo pipefail
cd "$(dirname "$0")/../public/icons"
BLUE='#0b57d0'
draw() { # size, scale of the drawing (1 = fills the icon), corner radius fraction, output
  local s=$1 k=$2 r=$3 out=$4
  local c; c=$(echo "$s/2" | bc -l)
  local u; u=$(echo "$s*$k/100" | bc -l) # one unit of a 100-unit drawing
  p() { echo "$c + ($1)*$u" | bc -l; }
  q() { echo "($1)*$u" | bc -l; } # a length, not a position
  local bg=(xc:"$BLUE") # full bleed (maskable, apple-touch-icon: the platform rounds it)
  if [ "$r" != 0 ]; then
    bg=(xc:none -fill "$BLUE" -draw "roundrectangle 0,0 $((s - 1)),$((s - 1)) $(q "100*$r/$k"),$(q "100*$r/$k")")
  fi
  convert -size "${s}x${s}" "${bg[@]}" \
    -fill white -draw "roundrectangle $(p -32),$(p -28) $(p 32),$(p 22) $(q 14),$(q 14)" \
    -draw "polygon $(p -18),$(p 16) $(p -26),$(p 34) $(p -2),$(p 20)" \
    -fill "$BLUE" -draw "roundrectangle $(p -12),$(p -6) $(p 12),$(p 12) $(q 3),$(q 3)" \
    -fill none -stroke "$BLUE" -strokewidth "$(echo "$u*4.5" | bc -l)" \
    -draw "arc $(p -8),$(p -18) $(p 8),$(p 2) 180,360" \
    -draw "line $(p -8),$(p -8) $(p -8),$(p -5)" -draw "line $(p 8),$(p -8) $(p 8),$(p -5)" \
    -strip "$out"
}
draw 192 1 0.22 icon-192.png
draw 512 1 0.22 icon-512.png
draw 192 0.8 0 maskable-192.png
draw 512 0.8 0 maskable-512.png
draw 180 1 0 apple-touch-icon.png
