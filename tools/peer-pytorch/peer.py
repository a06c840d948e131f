"""PyTorch peer of train:bench (benchmark only; nothing in CI or the tests runs it).

The same Pixel-BERT step as packages/train/src/cli/bench-stages.ts, in PyTorch, built from the JSON
our tfjs worker describes (--config=FILE: shapes, backbone table entry, batch layout, optimiser
settings), so there is one source for the shapes. Parameter names equal ours (torchvision /
Hugging Face BERT), so our initial weights load by name (Linear [in,out] and conv [kh,kw,in,out]
transposed). Speaks train:bench's line-delimited JSON on stdin/stdout (see bench-worker.ts):
steps, peak, curve, exit. Channels-last memory format for the CNN (TensorFlow's layout), the
faster one on CPU. Installed by tools/peer-pytorch/setup into its own venv.
"""
import argparse
import json
import math
import os
import resource
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

IGNORE = -100


# ── the model ─────────────────────────────────────────────────────────────────────────────────
class Bottleneck(nn.Module):
    def __init__(self, inplanes, width, out, stride, groups):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.downsample = None
        if stride != 1 or inplanes != out:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        idt = self.downsample(x) if self.downsample is not None else x
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + idt)


class Basic(nn.Module):
    def __init__(self, inplanes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        idt = self.downsample(x) if self.downsample is not None else x
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + idt)


class Backbone(nn.Module):
    """torchvision's ResNet trunk (v1.5) from our backbone table entry, then Pixel-BERT's max-pool."""

    def __init__(self, c, pool):
        super().__init__()
        self.pool = pool
        self.conv1 = nn.Conv2d(3, c["stemWidth"], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(c["stemWidth"])
        inplanes = c["stemWidth"]
        exp = 4 if c["block"] == "bottleneck" else 1
        for si, depth in enumerate(c["layers"]):
            planes = c["planes"][si]
            blocks = []
            for bi in range(depth):
                stride = c["strides"][si] if bi == 0 else 1
                if c["block"] == "bottleneck":
                    width = int(planes * (c["widthPerGroup"] / 64)) * c["groups"]
                    blocks.append(Bottleneck(inplanes, width, planes * exp, stride, c["groups"]))
                else:
                    blocks.append(Basic(inplanes, planes, stride))
                inplanes = planes * exp
            setattr(self, f"layer{si + 1}", nn.Sequential(*blocks))
        self.nlayers = len(c["layers"])
        self.out_channels = inplanes

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        for i in range(self.nlayers):
            x = getattr(self, f"layer{i + 1}")(x)
        return F.max_pool2d(x, self.pool, self.pool)


def gelu(x):
    return F.gelu(x)  # exact (erf), as BERT's "gelu"


class LayerNormed(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.LayerNorm = nn.LayerNorm(d, eps=1e-12)


class Layer(nn.Module):
    def __init__(self, d, heads, ffn, p):
        super().__init__()
        self.heads, self.p = heads, p
        self.attention = nn.Module()
        self.attention.self = nn.Module()
        for n in ("query", "key", "value"):
            setattr(self.attention.self, n, nn.Linear(d, d))
        self.attention.output = nn.Module()
        self.attention.output.dense = nn.Linear(d, d)
        self.attention.output.LayerNorm = nn.LayerNorm(d, eps=1e-12)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(d, ffn)
        self.output = nn.Module()
        self.output.dense = nn.Linear(ffn, d)
        self.output.LayerNorm = nn.LayerNorm(d, eps=1e-12)

    def forward(self, x, mask):  # x (B, L, d), mask (B, 1, 1, L) additive
        B, L, d = x.shape
        nh, hs = self.heads, d // self.heads
        s = self.attention.self
        split = lambda t: t.view(B, L, nh, hs).transpose(1, 2)  # (B, nh, L, hs)
        q, k, v = split(s.query(x)), split(s.key(x)), split(s.value(x))
        probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hs) + mask, -1)
        ctx = (F.dropout(probs, self.p, self.training) @ v).transpose(1, 2).reshape(B, L, d)
        h1 = self.attention.output.LayerNorm(F.dropout(self.attention.output.dense(ctx), self.p, self.training) + x)
        ff = self.output.dense(gelu(self.intermediate.dense(h1)))
        return self.output.LayerNorm(F.dropout(ff, self.p, self.training) + h1)


class Mlp(nn.Module):
    def __init__(self, i, h, o):
        super().__init__()
        self.dense, self.LayerNorm, self.classifier = nn.Linear(i, h), nn.LayerNorm(h, eps=1e-12), nn.Linear(h, o)

    def forward(self, x):
        return self.classifier(self.LayerNorm(gelu(self.dense(x))))


class PixelBert(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.p = c["hidden"], c["dropout"]
        self.backbone = Backbone(c["backbone"], c["pixelPool"])
        self.pixel_embeddings = nn.Module()
        self.pixel_embeddings.projection = nn.Linear(self.backbone.out_channels, d)
        self.pixel_embeddings.s_v = nn.Parameter(torch.zeros(d))
        if c.get("pixelPositionEmbedding"):
            raise SystemExit("peer: model.pixelPositionEmbedding is not modelled here; bench a spec without it")
        if c.get("pixelLayerNorm"):  # the spec's model.pixelLayerNorm (not in the paper's eq. 5)
            self.pixel_embeddings.LayerNorm = nn.LayerNorm(d, eps=1e-12)
        self.embeddings = nn.Module()
        self.embeddings.word_embeddings = nn.Embedding(c["vocab"], d)
        self.embeddings.position_embeddings = nn.Embedding(c["maxTextLength"], d)
        self.embeddings.token_type_embeddings = nn.Embedding(2, d)
        self.embeddings.LayerNorm = nn.LayerNorm(d, eps=1e-12)
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList([Layer(d, c["heads"], c["ffn"], c["dropout"]) for _ in range(c["layers"])])
        self.pooler = nn.Module()
        self.pooler.dense = nn.Linear(d, d)
        st = c["stage"]
        if st == "pretrain":
            self.cls = nn.Module()
            self.cls.predictions = nn.Module()
            self.cls.predictions.transform = nn.Module()
            self.cls.predictions.transform.dense = nn.Linear(d, d)
            self.cls.predictions.transform.LayerNorm = nn.LayerNorm(d, eps=1e-12)
            self.cls.predictions.bias = nn.Parameter(torch.zeros(c["vocab"]))
            self.itm_head = nn.Linear(d, 2)
        elif st == "vqa":
            self.vqa_head = Mlp(d, 2 * d, c["answers"])
        elif st == "nlvr2":
            self.nlvr2_head = Mlp(2 * d, 2 * d, 2)
        else:
            self.retrieval_head = nn.Linear(d, 1)

    def embed_images(self, images, backbone_training):
        self.backbone.train(backbone_training)
        f = self.backbone(images)  # (N, C, h, w)
        N, C, h, w = f.shape
        return f.permute(0, 2, 3, 1).reshape(N, h * w, C)  # row-major grid, as ours

    def embed_pixels(self, feats):
        pe = self.pixel_embeddings
        v = pe.projection(feats) + pe.s_v
        if hasattr(pe, "LayerNorm"):
            v = pe.LayerNorm(v)
        return F.dropout(v, self.p, self.training)

    def embed_text(self, ids):
        T = ids.shape[1]
        e = self.embeddings
        x = e.word_embeddings(ids) + e.position_embeddings.weight[:T] + e.token_type_embeddings.weight[0]
        return F.dropout(e.LayerNorm(x), self.p, self.training)

    def joint(self, w, tmask, v, vmask):
        x = torch.cat([w, v], 1)
        mask = ((1 - torch.cat([tmask, vmask], 1)) * -10000.0)[:, None, None, :]
        for layer in self.encoder.layer:
            x = layer(x, mask)
        return x, torch.tanh(self.pooler.dense(x[:, 0]))


# ── the stage's step ──────────────────────────────────────────────────────────────────────────
def synthetic_images(n, S):
    b = torch.arange(n, dtype=torch.float64)[:, None, None, None]
    y = torch.arange(S, dtype=torch.float64)[None, :, None, None]
    x = torch.arange(S, dtype=torch.float64)[None, None, :, None]
    c = torch.arange(3, dtype=torch.float64)[None, None, None, :]
    return torch.sin(0.37 * b + 0.11 * y + 0.07 * x + 1.3 * c + 0.01 * x * y).float()  # (n, S, S, 3) NHWC


def synthetic_text(rows, T, V):
    ids, labels = [], []
    for i in range(rows * T):
        t = i % T
        v = 1 if t == 0 else 2 if t == T - 1 else 5 + ((i * 7919) % (V - 5))
        ids.append(v)
        labels.append(v if 0 < t < T - 1 and (i * 2654435761) % 100 < 15 else IGNORE)
    return torch.tensor(ids).view(rows, T), torch.tensor(labels).view(rows, T)


def soft_scores(rows, A):
    i = torch.arange(rows * A, dtype=torch.int64)
    return torch.where((i * 2654435761) % 10 == 0, 0.3 + ((i * 40503) % 8).double() / 10, torch.zeros(())).float().view(rows, A)


class Step:
    def __init__(self, c):
        self.c = c
        torch.manual_seed(0)
        self.model = PixelBert(c)
        self.stage = st = c["stage"]
        T, V, S = c["tokens"], c["vocab"], c["image"]
        self.cl = lambda t: t.contiguous(memory_format=torch.channels_last)
        if st == "retrieval-eval":
            r = c["ranking"]
            self.images = self.cl(synthetic_images(r["images"], S).permute(0, 3, 1, 2))
            self.ids, _ = synthetic_text(r["captions"], T, V)
            self.examples, self.pairs = r["captions"], r["images"] * r["captions"]
            self.model.eval()
            return
        rows = c["rows"]
        self.images = self.cl(synthetic_images(c["nImages"], S).permute(0, 3, 1, 2))
        self.ids, labels = synthetic_text(rows, T, V)
        if st == "pretrain":
            labels[1::2] = IGNORE  # ITM negatives carry no MLM labels
        self.labels = labels.view(-1)
        self.row_image = torch.tensor(c["rowImage"]) if c["rowImage"] is not None else None
        self.itm = torch.tensor([1 if r % 2 == 0 else 0 for r in range(rows)])
        self.vqa = soft_scores(rows, c["answers"])
        self.nlvr = torch.tensor([i % 2 for i in range(c["examples"])])
        self.examples, self.pairs = c["examples"], rows
        self.cnn_trained = st != "retrieval"
        o = c["optim"]
        no_decay_bn = lambda n: ".bn" in "." + n.split("backbone.", 1)[-1] or "downsample.1." in n
        no_decay_bert = lambda n: n.endswith(".bias") or "LayerNorm." in n
        cnn = [(n, p) for n, p in self.model.named_parameters() if n.startswith("backbone.")]
        tr = [(n, p) for n, p in self.model.named_parameters() if not n.startswith("backbone.")]
        if not self.cnn_trained:
            for _, p in cnn:
                p.requires_grad_(False)
        self.opts = []
        if self.cnn_trained:
            self.opts.append(torch.optim.SGD([
                {"params": [p for n, p in cnn if not no_decay_bn(n)], "weight_decay": o["cnn"]["weightDecay"]},
                {"params": [p for n, p in cnn if no_decay_bn(n)], "weight_decay": 0.0},
            ], lr=c["lr"]["cnn"], momentum=o["cnn"]["momentum"]))
        t = o["transformer"]
        self.opts.append(torch.optim.AdamW([
            {"params": [p for n, p in tr if not no_decay_bert(n)], "weight_decay": t["weightDecay"]},
            {"params": [p for n, p in tr if no_decay_bert(n)], "weight_decay": 0.0},
        ], lr=c["lr"]["transformer"], betas=(t["beta1"], t["beta2"]), eps=1e-8))
        self.model.train()

    def loss(self):
        c, m, st = self.c, self.model, self.stage
        T = c["tokens"]
        feats = m.embed_images(self.images, self.cnn_trained)  # (N, hw, C)
        if self.row_image is not None:
            feats = feats[self.row_image]
        B = feats.shape[0]
        k = c["pixelsKept"]
        if k and k < feats.shape[1]:
            idx = torch.stack([torch.randperm(feats.shape[1])[:k] for _ in range(B)])
            feats = torch.gather(feats, 1, idx[:, :, None].expand(-1, -1, feats.shape[2]))
        v = m.embed_pixels(feats)
        w = m.embed_text(self.ids)
        hidden, pooled = m.joint(w, torch.ones(B, T), v, torch.ones(B, v.shape[1]))
        if st == "pretrain":
            L, d = hidden.shape[1], hidden.shape[2]
            pos = torch.nonzero(self.labels != IGNORE).view(-1)
            rows_, cols = pos // T, pos % T
            picked = hidden.reshape(B * L, d)[rows_ * L + cols]
            p = m.cls.predictions
            h = p.transform.LayerNorm(gelu(p.transform.dense(picked)))
            logits = h @ m.embeddings.word_embeddings.weight.t() + p.bias
            return F.cross_entropy(logits, self.labels[pos]) + F.cross_entropy(m.itm_head(pooled), self.itm)
        if st == "vqa":
            return F.binary_cross_entropy_with_logits(m.vqa_head(pooled), self.vqa, reduction="none").sum(1).mean()
        if st == "nlvr2":
            return F.cross_entropy(m.nlvr2_head(pooled.reshape(-1, 2 * pooled.shape[1])), self.nlvr)
        scores = m.retrieval_head(pooled).view(self.examples, 1 + c["negatives"])
        with torch.no_grad():
            keep = torch.zeros_like(scores, dtype=torch.bool)
            keep[:, 0] = True
            top = torch.topk(scores[:, 1:], c["hardNegatives"], 1).indices + 1
            keep.scatter_(1, top, True)
        masked = torch.where(keep, scores, torch.full_like(scores, -1e9))
        return F.cross_entropy(masked, torch.zeros(self.examples, dtype=torch.long))

    def run(self):
        if self.stage == "retrieval-eval":
            return self.rank()
        for o in self.opts:
            o.zero_grad(set_to_none=True)
        l = self.loss()
        l.backward()
        for o in self.opts:
            o.step()
        return l.item()

    @torch.no_grad()
    def rank(self):
        c, m = self.c, self.model
        r, T = c["ranking"], c["tokens"]
        v = m.embed_pixels(m.embed_images(self.images, False))
        w = m.embed_text(self.ids)
        n_cap, chunk = r["captions"], r["chunk"]
        for i in range(r["images"]):
            for a in range(0, n_cap, chunk):
                n = min(chunk, n_cap - a)
                _, pooled = m.joint(w[a:a + n], torch.ones(n, T), v[i:i + 1].expand(n, -1, -1), torch.ones(n, v.shape[1]))
                m.retrieval_head(pooled).view(-1).tolist()

    def forward_flops(self):
        from torch.utils.flop_counter import FlopCounterMode
        fc = FlopCounterMode(display=False)
        with fc:
            if self.stage == "retrieval-eval":
                self.rank()
            else:
                with torch.no_grad():
                    self.loss()
        return fc.get_total_flops()


# ── loading our weights (safetensors, our layouts) ────────────────────────────────────────────
def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, e in header.items():
        if k == "__metadata__":
            continue
        a, b = e["data_offsets"]
        dt = {"F32": torch.float32, "I32": torch.int32}[e["dtype"]]
        out[k] = torch.frombuffer(bytearray(data[a:b]), dtype=dt).view(e["shape"]) if b > a else torch.zeros(e["shape"], dtype=dt)
    return out


def load_ours(model, path):
    ours = read_safetensors(path)
    sd = model.state_dict()
    missing = [k for k in sd if k not in ours and not k.endswith("num_batches_tracked")]
    unused = [k for k in ours if k not in sd]
    if missing or unused:
        raise SystemExit(f"peer: weights do not match by name: missing {missing[:8]}, unused {unused[:8]}")
    for k, t in ours.items():
        if t.dim() == 4:
            t = t.permute(3, 2, 0, 1)  # [kh, kw, in, out] -> [out, in, kh, kw]
        elif t.dim() == 2 and not k.startswith("embeddings."):
            t = t.t()  # Linear [in, out] -> [out, in]
        if tuple(t.shape) != tuple(sd[k].shape):
            raise SystemExit(f"peer: {k}: ours {list(t.shape)} vs torch {list(sd[k].shape)}")
        sd[k].copy_(t)


def main():
    # TensorFlow flushes denormal floats to zero in its threads; PyTorch on x86 does not unless asked,
    # and the optimiser's tiny second moments then run ~10x slower. The peer asks (a standard tuning).
    torch.set_flush_denormal(True)
    # PIXEL_BERT_PEER_THREADS: intra-op threads (default: PyTorch's, one per core). On a machine
    # other jobs load, PyTorch's OpenMP barriers wait on descheduled threads; 1 avoids that.
    if os.environ.get("PIXEL_BERT_PEER_THREADS"):
        torch.set_num_threads(int(os.environ["PIXEL_BERT_PEER_THREADS"]))
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    a = ap.parse_args()
    with open(a.config) as f:
        c = json.load(f)
    s = Step(c)
    flops = s.forward_flops()
    params = sum(p.numel() for p in s.model.parameters())
    send = lambda o: (sys.stdout.write(json.dumps(o) + "\n"), sys.stdout.flush())
    send({"ready": True, "backend": f"pytorch {torch.__version__} ({torch.get_num_threads()} threads)", "examples": s.examples, "pairs": s.pairs,
          "images": int(s.images.shape[0]), "params": params, "shape": {}, "flops": {"conv": 0, "matmul": flops}, "cnnTrained": getattr(s, "cnn_trained", False)})
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "steps":
            ms, cpu = [], []
            for _ in range(cmd.get("n", 1)):
                c0, t0 = time.process_time(), time.perf_counter()
                s.run()
                ms.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
            send({"ms": ms, "cpuMs": cpu})
        elif cmd["cmd"] == "peak":
            n = 1024
            x, y = torch.randn(n, n), torch.randn(n, n)
            best = min((lambda t0: (x @ y, time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(9))
            send({"gflops": 2 * n ** 3 / best / 1e9})
        elif cmd["cmd"] == "curve":
            with torch.no_grad():
                load_ours(s.model, cmd["weights"])
            losses = []
            for _ in range(cmd.get("n", 5)):
                losses.append(s.run())
            send({"losses": losses})
        elif cmd["cmd"] == "exit":
            send({"maxRssMB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)})
            return


if __name__ == "__main__":
    main()
