"""scikit-learn's digits (1,797 images of 8x8 pixels, shipped inside the
scikit-learn wheel) as JSON Lines: id, label and the 64 pixels as `emb`,
a real set of vectors for lake's recall tests.

Reads {"out": path} on standard input; writes the file; prints {"rows": n}.
"""

import json
import sys

from sklearn.datasets import load_digits

cfg = json.load(sys.stdin)
digits = load_digits()
with open(cfg["out"], "w") as f:
    for i, (pixels, label) in enumerate(zip(digits.data, digits.target)):
        f.write(json.dumps({"id": i, "label": int(label), "emb": [float(p) for p in pixels]}) + "\n")
print(json.dumps({"rows": len(digits.data)}))
