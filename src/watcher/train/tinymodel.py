"""A tiny llama model and BPE tokenizer made offline, for tests and benchmarks.

There is no model hub here, so tests and `bench/train.py` build their own model: a 2-layer llama
(hidden 64, 4 heads) with a 512-token byte-level BPE trained on the given texts, saved with
mlx-lm's own save helpers so `mlx_lm.load` (and `python -m mlx_lm lora --model DIR`) reads it.
"""

from __future__ import annotations

import json
from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>{{ message['content'] }}{{ eos_token }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>", "<|system|>", "<|user|>", "<|assistant|>"]

DEFAULT_TEXTS = [
    "Write a Haiku about rain in a calm tone",
    "soft rain on the roof\nthe garden drinks in silence\nevening comes slowly",
    "Write a Limerick about a cat in a playful tone",
    "There once was a cat from the sea\nwho wanted to sail with a flea\nthey set out at dawn\nand by noon they were gone\nnow they live on an island for free",
    "<think>five syllables, seven, five</think>",
]


def _train_tokenizer(texts: list[str], vocab_size: int):  # -> PreTrainedTokenizerFast
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    # Byte-level pieces: every string is encodable and mlx-lm picks its BPE streaming detokenizer.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        chat_template=CHAT_TEMPLATE,
    )


def make_tiny_model(path: Path, texts: list[str] | None = None, *, vocab_size: int = 512,
                    hidden_size: int = 64, num_layers: int = 2, num_heads: int = 4, seed: int = 0) -> Path:
    """Write a loadable tiny llama to `path` and return it; texts train the tokenizer."""
    import mlx.core as mx
    from mlx_lm.models import llama
    from mlx_lm.utils import save_config, save_model

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    hf_tok = _train_tokenizer(list(texts or DEFAULT_TEXTS) + DEFAULT_TEXTS, vocab_size)
    vocab = len(hf_tok)
    config = {
        "model_type": "llama",
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": hidden_size,
        "num_hidden_layers": num_layers,
        "intermediate_size": hidden_size * 2,
        "num_attention_heads": num_heads,
        "num_key_value_heads": num_heads,
        "rms_norm_eps": 1e-5,
        "vocab_size": vocab,
        "max_position_embeddings": 2048,
        "rope_theta": 10000.0,
        "tie_word_embeddings": True,
        "bos_token_id": hf_tok.bos_token_id,
        "eos_token_id": hf_tok.eos_token_id,
    }
    mx.random.seed(seed)
    model = llama.Model(llama.ModelArgs.from_dict(config))
    mx.eval(model.parameters())
    save_model(path, model)
    save_config(dict(config), path / "config.json")
    hf_tok.save_pretrained(str(path))
    # Older transformers keep the template only in tokenizer_config.json, newer ones in
    # chat_template.jinja; make sure tokenizer_config.json has it either way.
    tc_path = path / "tokenizer_config.json"
    tc = json.loads(tc_path.read_text())
    tc.setdefault("chat_template", CHAT_TEMPLATE)
    tc_path.write_text(json.dumps(tc, indent=2))
    return path


_HAIKU_LINES = [
    ("{t} at first light", "a quiet wind moves the reeds", "the day opens slow"),
    ("cold {t} tonight", "the lantern hums by the door", "one moth, then the dark"),
    ("under {t}", "small stones remember the rain", "moss keeps the secret"),
]
_LIMERICK = ("A poet who wrote about {t}\n"
             "would rhyme it with all that he'd see\n"
             "he sang it at noon\n"
             "to a very small tune\n"
             "and then he went home for his tea")
_TOPICS = ["rain", "the sea", "autumn", "a lighthouse", "snow", "the moon", "a garden", "the river",
           "a train", "the market", "a candle", "the forest", "a harbor", "the desert", "a bridge", "the hills"]
_TEST_TOPICS = ["a kite", "the orchard", "a clock", "the glacier"]  # held out: no training prompt uses them
_TONES = ["calm", "playful", "wistful", "solemn"]


def tiny_examples(n: int, start: int = 0, forms: tuple[str, ...] = ("Haiku", "Limerick"),
                  topics: list[str] | None = None) -> list[dict]:
    """n short chat examples in mlx-lm's format, alternating forms; `start` shifts the topics."""
    topics = topics or _TOPICS
    out = []
    for i in range(start, start + n):
        form = forms[i % len(forms)]
        topic = topics[(i // len(forms)) % len(topics)]
        tone = _TONES[i % len(_TONES)]
        if form == "Haiku":
            poem = "\n".join(_HAIKU_LINES[i % len(_HAIKU_LINES)]).format(t=topic)
        else:
            poem = _LIMERICK.format(t=topic)
        out.append({"messages": [
            {"role": "user", "content": f"Write a {form} about {topic} in a {tone} tone"},
            {"role": "assistant", "content": f"<think>a {form.lower()} about {topic}</think>\n{poem}"},
        ]})
    return out


def make_tiny_export(gate_dir: Path, n_train: int = 40, n_valid: int = 8, n_test: int = 8) -> Path:
    """A small gated export (gate/train.jsonl, valid.jsonl, test.jsonl) of short poems."""
    gate_dir = Path(gate_dir)
    gate_dir.mkdir(parents=True, exist_ok=True)
    offset = 0
    for split, n in (("train", n_train), ("valid", n_valid), ("test", n_test)):
        rows = tiny_examples(n, start=offset, topics=_TEST_TOPICS if split == "test" else None)
        offset += n
        (gate_dir / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return gate_dir


def export_texts(gate_dir: Path) -> list[str]:
    """Every message text of an export, to train the tiny tokenizer on."""
    texts = []
    for f in sorted(Path(gate_dir).glob("*.jsonl")):
        for line in f.read_text().splitlines():
            if line.strip():
                texts.extend(m["content"] for m in json.loads(line).get("messages", []))
    return texts
