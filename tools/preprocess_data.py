"""Turn JSON-lines text into Megatron ``.bin``/``.idx`` indexed datasets (LiBai's script).

    python tools/preprocess_data.py --input docs.jsonl --output-prefix data/corpus \
        --tokenizer-name BertTokenizer --vocab-file vocab.txt --do-lower-case \
        --split-sentences --workers 2

Run ``python tools/preprocess_data.py --help`` for every option. The work is done by
``libai.data.tools.preprocess`` (installed with libai-data).
"""

from __future__ import annotations

from libai.data.tools.preprocess import main

if __name__ == "__main__":
    raise SystemExit(main())
