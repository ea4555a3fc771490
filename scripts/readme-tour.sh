#!/usr/bin/env bash
# Regenerates the "A tour" output in README.md: the enroll → login → list → remove flow on the
# face_recognition example photos in ../shared/datasets, with a throw-away store.
#   bash scripts/readme-tour.sh > /tmp/tour.md
set -uo pipefail
cd "$(dirname "$0")/.."
EX=../shared/datasets/face-recognition-examples
export FACECTL_STORE=$(mktemp -d)/store
run() {
  echo '```console'
  printf '$ npx facectl'; printf ' %q' "$@"; echo
  ./bin/facectl "$@" 2>&1
  echo "# exit $?"
  echo '```'
}
run enroll obama $EX/barack_obama/obama.jpg $EX/barack_obama/obama2.jpg --name "Barack Obama"
run enroll biden $EX/joe_biden/biden.jpg $EX/joe_biden/biden2.jpg --name "Joe Biden"
run enroll kit $EX/kit_harington/john1.jpeg $EX/kit_harington/john2.jpeg --name "Kit Harington"
run enroll rose $EX/rose_leslie/img1.jpg ../shared/datasets/edge-cases/no-face/cat.jpg
run login $EX/barack_obama/obama1.jpg --sheet /tmp/facectl-sheet.png
run login $EX/alex_lacamoire/img1.jpg
run enroll barack $EX/barack_obama/obama3.jpg
run list
run remove biden
run info
