#!/usr/bin/env python3
"""Trains and evaluates a Parapet classifier with the fastText command-line tool.

Reads the JSONL files written by scripts/classifier_data.py, applies the text preparation that
Parapet's classifier front end applies (NFKC, invisible characters removed, casefold, each
character that is neither alphanumeric nor whitespace set off by spaces, whitespace runs collapsed),
trains with `fasttext supervised` (optionally `fasttext quantize`), scores the test split and the
look-alike slice with `fasttext predict-prob`, and prints the metrics Parapet's acceptance bars use.

Thresholds are chosen on out-of-fold scores of the training split (k-fold cross-validation), never
on the test split, unless given with --block / --flag:
  block  the lowest score at which the out-of-fold false-positive rate is <= --block-fpr (0.5%)
  flag   the lowest score at which the out-of-fold false-positive rate is <= --flag-fpr (2%)

Metrics (test split unless named otherwise): recall at the score that keeps the false-positive
rate <= 2%, ROC-AUC, AUPRC (average precision), false-positive rate at 95% recall, recall /
precision / false-positive rate at the block and flag thresholds, and the share of the look-alike
slice that would be blocked (score >= block) and flagged (flag <= score < block).

Usage (the settings in scripts/classifier_recipe.md):
  scripts/classifier_fasttext.py --data build/classifier-data --model prompt-attack \\
      --work build/ft/prompt-attack -- -wordNgrams 2 -dim 16 -epoch 15 -lr 0.3 -bucket 100000 -minCount 2
Everything after `--` goes to `fasttext supervised` (-seed 1 -thread 1 come first, so a later
-seed overrides). Models and scratch files are written under --work.
"""

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from classifier_data import normalise, text_hash  # noqa: E402

POSITIVE = {"prompt-attack": "attack", "harmful-content": "harmful"}


def prepare(text):
    """Parapet's classifier text preparation: normalise, then set punctuation off as tokens."""
    text = normalise(text)
    out = []
    for ch in text:
        if ch.isalnum() or ch.isspace():
            out.append(ch)
        else:
            out.append(" " + ch + " ")
    return " ".join("".join(out).split())


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_fasttext(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write("__label__%s %s\n" % (r["label"], prepare(r["text"])))


def write_plain(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(prepare(r["text"]) + "\n")


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def train(train_path, out_prefix, ft_args, quantize_args=None):
    run(["fasttext", "supervised", "-input", train_path, "-output", out_prefix,
         "-seed", "1", "-thread", "1", "-verbose", "0"] + ft_args)
    if quantize_args is None:
        return out_prefix + ".bin"
    run(["fasttext", "quantize", "-input", train_path, "-output", out_prefix,
         "-thread", "1", "-verbose", "0"] + quantize_args)
    return out_prefix + ".ftz"


def predict(model_path, rows, work, positive):
    """Returns P(positive) for each row."""
    path = os.path.join(work, "predict.txt")
    write_plain(path, rows)
    out = subprocess.run(["fasttext", "predict-prob", model_path, path, "2"], check=True,
                         capture_output=True, text=True).stdout.splitlines()
    assert len(out) == len(rows), (len(out), len(rows))
    scores = []
    for line in out:
        parts = line.split()
        probs = {parts[i][len("__label__"):]: float(parts[i + 1]) for i in range(0, len(parts), 2)}
        if positive in probs:
            scores.append(min(probs[positive], 1.0))
        else:  # only the other label was printed
            scores.append(max(0.0, 1.0 - sum(probs.values())))
    return scores


# ---- metrics ----


def roc_auc(pos, neg):
    """Probability that a random positive outscores a random negative (ties count half)."""
    allv = sorted([(s, 1) for s in pos] + [(s, 0) for s in neg])
    rank_sum, i = 0.0, 0
    while i < len(allv):
        j = i
        while j < len(allv) and allv[j][0] == allv[i][0]:
            j += 1
        avg_rank = (i + j + 1) / 2.0  # ranks are 1-based
        rank_sum += avg_rank * sum(1 for k in range(i, j) if allv[k][1])
        i = j
    n_pos, n_neg = len(pos), len(neg)
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def _curve(pos, neg):
    """(threshold, tp, fp) for each distinct score, from high to low (predict positive if >=)."""
    allv = sorted([(s, 1) for s in pos] + [(s, 0) for s in neg], reverse=True)
    points, tp, fp, i = [], 0, 0, 0
    while i < len(allv):
        t = allv[i][0]
        while i < len(allv) and allv[i][0] == t:
            tp += allv[i][1]
            fp += 1 - allv[i][1]
            i += 1
        points.append((t, tp, fp))
    return points


def average_precision(pos, neg):
    ap, prev_tp = 0.0, 0
    for _, tp, fp in _curve(pos, neg):
        ap += (tp - prev_tp) / len(pos) * (tp / (tp + fp))
        prev_tp = tp
    return ap


def recall_at_fpr(pos, neg, max_fpr):
    best = (0.0, 1.0)
    for t, tp, fp in _curve(pos, neg):
        if fp / len(neg) <= max_fpr:
            best = (tp / len(pos), t)
    return best


def fpr_at_recall(pos, neg, min_recall):
    for t, tp, fp in _curve(pos, neg):
        if tp / len(pos) >= min_recall:
            return fp / len(neg), t
    return 1.0, 0.0


def threshold_for_fpr(neg, max_fpr):
    """Lowest threshold t (among the negatives' scores, nudged up) with FPR(score >= t) <= max_fpr."""
    ranked = sorted(neg, reverse=True)
    allowed = int(max_fpr * len(ranked))
    if allowed >= len(ranked):
        return 0.0
    # Block strictly above the (allowed+1)-th highest negative score.
    return min(1.0, ranked[allowed] + 1e-6)


# ---- main ----


def folds(rows, k):
    """k train/held-out splits of the training rows by the hash of their normalised text."""
    for i in range(k):
        train = [r for r in rows if text_hash(normalise(r["text"])) % k != i]
        held = [r for r in rows if text_hash(normalise(r["text"])) % k == i]
        yield train, held


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", required=True, choices=sorted(POSITIVE))
    ap.add_argument("--work", required=True)
    ap.add_argument("--quantize", default=None,
                    help="arguments for fasttext quantize, e.g. '-cutoff 50000 -qnorm -retrain'")
    ap.add_argument("--folds", type=int, default=5, help="folds for choosing thresholds (0: none)")
    ap.add_argument("--block-fpr", type=float, default=0.005)
    ap.add_argument("--flag-fpr", type=float, default=0.02)
    ap.add_argument("--block", type=float, default=None, help="fixed block threshold")
    ap.add_argument("--flag", type=float, default=None, help="fixed flag threshold")
    ap.add_argument("--cv-only", action="store_true", help="report cross-validation metrics only")
    ap.add_argument("--dump", default=None, help="write test scores to this JSONL file")
    ap.add_argument("ft_args", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    ft_args = [a for a in args.ft_args if a != "--"]
    q_args = args.quantize.split() if args.quantize is not None else None
    positive = POSITIVE[args.model]
    os.makedirs(args.work, exist_ok=True)

    train_rows = read_jsonl(os.path.join(args.data, args.model + ".train.jsonl"))
    test_rows = read_jsonl(os.path.join(args.data, args.model + ".test.jsonl"))
    look_rows = read_jsonl(os.path.join(args.data, "lookalike.test.jsonl"))

    block, flag = args.block, args.flag
    cv = {}
    if args.folds:
        oof_pos, oof_neg = [], []
        for tr, held in folds(train_rows, args.folds):
            path = os.path.join(args.work, "fold.train.txt")
            write_fasttext(path, tr)
            m = train(path, os.path.join(args.work, "fold"), ft_args, q_args)
            for x, r in zip(predict(m, held, args.work, positive), held):
                (oof_pos if r["label"] == positive else oof_neg).append(x)
        block = threshold_for_fpr(oof_neg, args.block_fpr) if block is None else block
        flag = threshold_for_fpr(oof_neg, args.flag_fpr) if flag is None else flag
        cv = {"cv_recall@2%fpr": round(recall_at_fpr(oof_pos, oof_neg, 0.02)[0], 4),
              "cv_auprc": round(average_precision(oof_pos, oof_neg), 4)}
    if args.cv_only:
        print(json.dumps(dict(cv, args=" ".join(ft_args))))
        return 0

    path = os.path.join(args.work, "train.txt")
    write_fasttext(path, train_rows)
    model = train(path, os.path.join(args.work, "model"), ft_args, q_args)
    size = os.path.getsize(model)
    ts = predict(model, test_rows, args.work, positive)
    pos = [s for s, r in zip(ts, test_rows) if r["label"] == positive]
    neg = [s for s, r in zip(ts, test_rows) if r["label"] != positive]
    ls = predict(model, look_rows, args.work, positive)

    rec2, t2 = recall_at_fpr(pos, neg, 0.02)
    f95, t95 = fpr_at_recall(pos, neg, 0.95)
    res = {
        "model": args.model, "args": " ".join(ft_args), "quantize": args.quantize,
        "size_mb": round(size / 1e6, 2),
        "n_train": len(train_rows), "n_test": len(test_rows),
        "n_test_pos": len(pos), "n_test_neg": len(neg), "n_lookalike": len(look_rows),
        "recall@2%fpr": round(rec2, 4), "thr@2%fpr": round(t2, 4),
        "roc_auc": round(roc_auc(pos, neg), 4), "auprc": round(average_precision(pos, neg), 4),
        "fpr@95%recall": round(f95, 4),
    }
    res.update(cv)
    if block is not None:
        res.update({
            "block": round(block, 4), "flag": round(flag, 4),
            "test_recall@block": round(sum(s >= block for s in pos) / len(pos), 4),
            "test_precision@block": round(sum(s >= block for s in pos) / max(1, sum(
                s >= block for s in pos + neg)), 4),
            "test_fpr@block": round(sum(s >= block for s in neg) / len(neg), 4),
            "test_recall@flag": round(sum(s >= flag for s in pos) / len(pos), 4),
            "test_fpr@flag": round(sum(s >= flag for s in neg) / len(neg), 4),
            "lookalike_blocked": round(sum(s >= block for s in ls) / len(ls), 4),
            "lookalike_flagged": round(sum(flag <= s < block for s in ls) / len(ls), 4),
        })
    extra = os.path.join(args.data, args.model + ".indirect.test.jsonl")
    if os.path.exists(extra) and block is not None:
        er = read_jsonl(extra)
        es = predict(model, er, args.work, positive)
        ep = [s for s, r in zip(es, er) if r["label"] == positive]
        en = [s for s, r in zip(es, er) if r["label"] != positive]
        res.update({
            "indirect_roc_auc": round(roc_auc(ep, en), 4),
            "indirect_recall@flag": round(sum(s >= flag for s in ep) / len(ep), 4),
            "indirect_fpr@flag": round(sum(s >= flag for s in en) / len(en), 4),
        })
    print(json.dumps(res))
    if args.dump:
        with open(args.dump, "w", encoding="utf-8") as f:
            for kind, rows, scores in (("test", test_rows, ts), ("lookalike", look_rows, ls)):
                for r, s in zip(rows, scores):
                    f.write(json.dumps(dict(r, split=kind, score=s), ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
