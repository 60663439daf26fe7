#!/usr/bin/env python3
"""Writes a CSV of N rows with mixed types (deterministic): the benchmark's input."""
import random
import sys

def main() -> None:
    rows = int(sys.argv[1])
    path = sys.argv[2]
    rnd = random.Random(42)
    cats = ["books", "games", "garden", "kitchen", "music", "sports", "tools", "toys"]
    names = ["Alice", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace", "Heidi", "Ivan", "Judy"]
    with open(path, "w", newline="") as f:
        f.write("id,customer,category,amount,qty,day,ts,paid,note\n")
        out = []
        for i in range(rows):
            day = f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}"
            ts = f"{day} {i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}"
            amount = f"{rnd.random() * 1000:.2f}"
            note = "" if i % 10 == 0 else f"order {i} for {names[i % 10]}"
            out.append(
                f"{i},{names[rnd.randrange(10)]} {i % 997},{cats[i % 8]},{amount},{rnd.randrange(1, 50)},"
                f"{day},{ts},{'true' if i % 3 else 'false'},{note}\n"
            )
            if len(out) == 100_000:
                f.writelines(out)
                out.clear()
        f.writelines(out)

if __name__ == "__main__":
    main()
