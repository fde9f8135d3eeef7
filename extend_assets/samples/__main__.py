"""``python -m extend_assets.samples --count 10000 --out DIR``: write a sample corpus."""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import date

from extend_assets.samples.corpus import generate_corpus, write_corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--end-date", default="2025-01-15")
    parser.add_argument("--out", required=True, help="directory to write into")
    args = parser.parse_args()
    docs = generate_corpus(
        args.count, days=args.days, seed=args.seed, end_date=date.fromisoformat(args.end_date)
    )
    truth = write_corpus(docs, args.out)
    counts = Counter(doc.truth["expected_status"] for doc in docs)
    print(f"wrote {len(docs)} documents and {truth}: {dict(counts)}")


if __name__ == "__main__":
    main()
