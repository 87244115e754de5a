#!/usr/bin/env bash
# Rebuilds the two shipped classifier models (models/prompt-attack.bin, models/harmful-content.bin)
# from the shared data with Parapet's own trainer, and measures them: the acceptance metrics on the
# held-out test split, the look-alike slice under the default policy, and the indirect-injection
# slice. Deterministic: the same data and seed give byte-identical models.
#
#   scripts/train_classifiers.sh [--shared ../shared/data] [--out models] [--parapet build/cli/parapet]
#
# The data and the full recipe (what was tried, why these settings) are in
# scripts/classifier_recipe.md; the model cards are models/prompt-attack.md and
# models/harmful-content.md.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
shared="$repo/../shared/data"
out="$repo/models"
parapet="$repo/build/cli/parapet"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --shared) shared="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --parapet) parapet="$2"; shift 2 ;;
    *) echo "usage: $0 [--shared DIR] [--out DIR] [--parapet BIN]" >&2; exit 2 ;;
  esac
done
[[ -d "$shared/safety" ]] || { echo "$0: no shared data at $shared" >&2; exit 2; }
[[ -x "$parapet" ]] || { echo "$0: no parapet binary at $parapet (build first)" >&2; exit 2; }

data="$repo/build/classifier-data"
python3 "$repo/scripts/classifier_data.py" --shared "$shared" --out "$data" >/dev/null
mkdir -p "$out"

# prompt-attack: word bigrams; short direct injections counted twice (they are few next to the
# long jailbreak templates).
"$parapet" classifier train --data "$data/prompt-attack.train.jsonl" \
  --data "$data/prompt-attack.train-short-attacks.jsonl" --out "$out/prompt-attack.bin" \
  --word-ngrams 2 --dim 16 --epoch 15 --lr 0.3 --bucket 100000 --min-count 2 --seed 1
# harmful-content: word bigrams and character 3- to 5-grams (hateful slang needs sub-word
# evidence); short benign requests added so that form and length are not evidence of harm.
"$parapet" classifier train --data "$data/harmful-content.train.jsonl" \
  --data "$data/harmful-content.train-short-benign.jsonl" --out "$out/harmful-content.bin" \
  --word-ngrams 2 --minn 3 --maxn 5 --dim 16 --epoch 25 --lr 0.2 --bucket 100000 --seed 1

echo "== prompt-attack, held-out test split (block threshold 0.90)"
"$parapet" classifier eval --model "$out/prompt-attack.bin" --data "$data/prompt-attack.test.jsonl" \
  --label attack --threshold 0.90
echo "== prompt-attack, indirect injections in emails (flag threshold 0.55)"
"$parapet" classifier eval --model "$out/prompt-attack.bin" \
  --data "$data/prompt-attack.indirect.test.jsonl" --label attack --threshold 0.55
echo "== harmful-content, held-out test split (block threshold 0.998)"
"$parapet" classifier eval --model "$out/harmful-content.bin" \
  --data "$data/harmful-content.test.jsonl" --label harmful --threshold 0.998
for m in prompt-attack harmful-content; do
  case $m in
    prompt-attack) b=0.90 f=0.55 l=attack ;;
    harmful-content) b=0.998 f=0.89 l=harmful ;;
  esac
  for slice in lookalike short-benign; do
    echo "== $m, $slice slice (the model's own block / flag thresholds)"
    "$parapet" classifier eval --model "$out/$m.bin" --data "$data/$slice.test.jsonl" --label $l \
      --threshold $b --flag-threshold $f
  done
done
for slice in lookalike short-benign; do
  echo "== the default policy on the $slice slice"
  "$parapet" policy eval --policy "$repo/examples/policies/default.yaml" \
    --data "$data/$slice.test.jsonl"
done
ls -l "$out/prompt-attack.bin" "$out/harmful-content.bin"
