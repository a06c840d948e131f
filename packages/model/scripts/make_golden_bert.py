"""Golden fixture for the BERT importer (run by hand, not by CI).

Builds a tiny random-weight Hugging Face `BertModel`, saves its weights as safetensors
and its outputs on a small padded batch, so the TypeScript test can import the weights
and check that our encoder reproduces the reference to 1e-4.

    pip install torch transformers safetensors      # from PyPI
    python3 packages/model/scripts/make_golden_bert.py

Writes packages/model/fixtures/bert-tiny/{config.json, model.safetensors, golden.json} (BertModel:
last hidden state, pooler output) and packages/model/fixtures/bert-tiny-pretraining/ (BertForPreTraining,
`bert.`-prefixed names and the MLM head `cls.predictions.*`: its prediction logits).
"""
import json
import os
import tempfile

import torch
import transformers
from transformers import BertConfig, BertForPreTraining, BertModel

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")


def tiny_config() -> BertConfig:
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
    return config


def perturb(model: torch.nn.Module) -> None:
    # HF initialises LayerNorm to (1, 0) and biases to 0; perturb every tensor so a wrong
    # mapping (a missed transpose, swapped gamma/beta, a bias dropped) cannot pass unseen.
    # Tied tensors (decoder = word embeddings) are one Parameter, so they stay tied.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)


def save(model: torch.nn.Module, out: str, golden: dict) -> None:
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        for name in ("config.json", "model.safetensors"):
            os.replace(os.path.join(tmp, name), os.path.join(out, name))
    tmp_path = os.path.join(out, "golden.json.tmp")
    with open(tmp_path, "w") as f:
        json.dump(golden, f)
    os.replace(tmp_path, os.path.join(out, "golden.json"))
    print(f"wrote {os.path.normpath(out)}/config.json, model.safetensors, golden.json")


def flat(t: torch.Tensor) -> list:
    return [round(float(x), 7) for x in t.flatten()]


def main() -> None:
    torch.manual_seed(0)
    model = BertModel(tiny_config(), add_pooling_layer=True).eval()
    perturb(model)

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

    versions = {"torch": torch.__version__, "transformers": transformers.__version__}
    save(model, os.path.join(FIXTURES, "bert-tiny"), {
        **versions,
        "input_ids": input_ids.tolist(),
        "attention_mask": attention_mask.tolist(),
        "last_hidden_state_shape": list(out.last_hidden_state.shape),
        "last_hidden_state": flat(out.last_hidden_state),
        "pooler_output_shape": list(out.pooler_output.shape),
        "pooler_output": flat(out.pooler_output),
    })

    torch.manual_seed(1)
    pre = BertForPreTraining(tiny_config()).eval()
    perturb(pre)
    with torch.no_grad():
        pout = pre(input_ids=input_ids, attention_mask=attention_mask)
    save(pre, os.path.join(FIXTURES, "bert-tiny-pretraining"), {
        **versions,
        "input_ids": input_ids.tolist(),
        "attention_mask": attention_mask.tolist(),
        "prediction_logits_shape": list(pout.prediction_logits.shape),
        "prediction_logits": flat(pout.prediction_logits),
    })


if __name__ == "__main__":
    main()
