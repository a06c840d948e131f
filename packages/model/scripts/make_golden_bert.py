"""Golden fixture for the BERT importer (run by hand, not by CI).

Builds a tiny random-weight Hugging Face `BertModel`, saves its weights as safetensors
and its outputs on a small padded batch, so the TypeScript test can import the weights
and check that our encoder reproduces the reference to 1e-4.

    pip install torch transformers safetensors      # from PyPI
    python3 packages/model/scripts/make_golden_bert.py

Writes packages/model/fixtures/bert-tiny/{config.json, model.safetensors, golden.json}.
"""
import json
import os
import tempfile

import torch
import transformers
from transformers import BertConfig, BertModel

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "bert-tiny")


def main() -> None:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=16,
        type_vocab_size=2,
        hidden_act="gelu",  # exact erf GELU, as BERT
        layer_norm_eps=1e-12,
    )
    config._attn_implementation = "eager"  # plain softmax(QK^T/sqrt(d) + mask) V, as ours
    model = BertModel(config, add_pooling_layer=True).eval()
    # HF initialises LayerNorm to (1, 0) and biases to 0; perturb every tensor so a wrong
    # mapping (a missed transpose, swapped gamma/beta, a bias dropped) cannot pass unseen.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)

    # [CLS]=1 ... [SEP]=2 with the second example padded (pad id 0, mask 0).
    input_ids = torch.tensor(
        [
            [1, 17, 42, 99, 5, 63, 28, 71, 2],
            [1, 8, 33, 54, 2, 0, 0, 0, 0],
        ],
        dtype=torch.long,
    )
    attention_mask = (torch.arange(9)[None, :] < torch.tensor([[9], [5]])).long()
    with torch.no_grad():
        out = model(input_ids=input_ids, attention_mask=attention_mask)

    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        for name in ("config.json", "model.safetensors"):
            os.replace(os.path.join(tmp, name), os.path.join(OUT, name))
    golden = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "input_ids": input_ids.tolist(),
        "attention_mask": attention_mask.tolist(),
        "last_hidden_state_shape": list(out.last_hidden_state.shape),
        "last_hidden_state": [round(float(x), 7) for x in out.last_hidden_state.flatten()],
        "pooler_output_shape": list(out.pooler_output.shape),
        "pooler_output": [round(float(x), 7) for x in out.pooler_output.flatten()],
    }
    tmp_path = os.path.join(OUT, "golden.json.tmp")
    with open(tmp_path, "w") as f:
        json.dump(golden, f)
    os.replace(tmp_path, os.path.join(OUT, "golden.json"))
    print(f"wrote {OUT}/config.json, model.safetensors, golden.json")


if __name__ == "__main__":
    main()
