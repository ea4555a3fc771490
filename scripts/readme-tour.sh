#!/usr/bin/env bash
# Regenerates the "A tour" output in README.md: the enroll → login → list → remove flow on the
# face_recognition example photos in ../shared/datasets, with a throw-away store.
#   bash scripts/readme-tour.sh > /tmp/tour.md
set -uo pipefail
cd "$(dirname "$0")/.."
EX=../shared/datasets/face-recognition-examples
rm -rf /tmp/facectl-tour && mkdir -p /tmp/facectl-tour
export FACECTL_STORE=/tmp/facectl-tour/store
EDGE=../shared/datasets/edge-cases
run() {
  echo '```console'
  # Show the photo paths the way a reader would type them, with the two variables set below.
  { printf '$ npx facectl'; printf ' %q' "$@"; echo; } | sed "s|$EX|\$EX|g; s|$EDGE|\$EDGE|g"
  ./bin/facectl "$@" 2>&1
  echo "# exit $?"
  echo '```'
}
echo '```console'
echo "\$ export FACECTL_STORE=$FACECTL_STORE EX=$EX EDGE=$EDGE"
echo '```'
run detect $EX/kit_harington/johnsnow_test1.jpg $EDGE/multi-face/obama_and_biden.jpg
run verify $EX/joe_biden/biden.jpg $EX/joe_biden/biden2.jpg
run enroll obama $EX/barack_obama/obama.jpg $EX/barack_obama/obama2.jpg --name "Barack Obama"
run enroll biden $EX/joe_biden/biden.jpg $EX/joe_biden/biden2.jpg --name "Joe Biden"
run enroll kit $EX/kit_harington/john1.jpeg $EX/kit_harington/john2.jpeg --name "Kit Harington"
run enroll rose $EX/rose_leslie/img1.jpg $EDGE/no-face/cat.jpg
run login $EX/barack_obama/obama1.jpg --sheet /tmp/facectl-tour/sheet.png
run login $EX/alex_lacamoire/img1.jpg
run enroll barack $EX/barack_obama/obama3.jpg
run list
run remove biden
run info
