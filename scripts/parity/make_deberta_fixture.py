"""Tiny DeBERTa-v2/v3 sequence classifiers, a DeBERTa-v3 tokenizer, and transformers' logits, for drift-core's
DebertaRewardModelTest.

    v/bin/python scripts/parity/make_deberta_fixture.py drift-core/src/test/resources/parity

(v: a venv with torch, transformers, tokenizers, sentencepiece and protobuf.)

The tokenizer is what DeBERTa-v3 checkpoints ship: a SentencePiece Unigram model (trained here on a few sentences,
with SentencePiece's default nmt_nfkc normalization) converted to tokenizer.json as transformers' DebertaV2Converter
does: normalizer Strip, Precompiled (the model's charsmap), Replace(" {2,}", " "); pre-tokenizer Metaspace (a "▁"
before every word); "[CLS] A [SEP]" and "[CLS] A [SEP] B [SEP]". The script checks its ids against SentencePiece's own
encoding of every case before writing anything.

Writes
  tiny-deberta-v3-reward/  DebertaV2ForSequenceClassification, num_labels 1, as v3 is configured: relative attention
                           with log buckets, shared attention keys, p2c|c2p, layer-normed relative embeddings, no
                           absolute positions, no token types
  tiny-deberta-v2-reward/  the other branches: absolute positions and token types, embed_proj (embedding size !=
                           hidden size), separate pos_key_proj/pos_query_proj, no buckets with clipped relative
                           positions, the convolution layer after layer 0 (v2-xlarge's), pos_att_type as "p2c|c2p"
  tiny-deberta-expected.json  (question, answer) cases, their ids and token types from the tokenizer, SentencePiece's
                           ids for each text, and each model's logits with the cases scored in one right-padded batch
"""
import json
import shutil
import sys
import tempfile
from pathlib import Path

import sentencepiece as spm
import torch
from sentencepiece import sentencepiece_model_pb2
from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import Unigram
from transformers import DebertaV2Config, DebertaV2ForSequenceClassification

CORPUS = """The capital of Australia is Canberra, not Sydney.
Paris is the capital of France and the City of Light.
What is six times seven? It is forty-two.
Please answer with just the number.
The quick brown fox jumps over the lazy dog.
No, that is wrong: try again and explain your reasoning.
A good answer is short, correct and polite.
Café, naïve and résumé keep their accents.
Numbers: 1 2 3 10 42 100 2024.
Write a haiku about the sea and the moon.
"""

CASES = [
    ("Capital of Australia?", "Canberra."),
    ("Capital of Australia?", "Sydney, obviously!"),
    ("What is 6 x 7?", "  42  "),
    # NFKC through the charsmap: full-width letters, a ligature, a circled digit; runs of spaces; an emoji that is
    # not in the vocabulary ([UNK]); a newline and a tab.
    ("Ｗｈａｔ  is the ﬁrst ① ?", "The   answer is\tforty-two 😀\nThanks."),
    ("Write a haiku about the sea.", "Quiet moon above / the sea keeps its ancient time / waves answer the night"),
]


def train_spm(work: Path) -> Path:
    corpus = work / "corpus.txt"
    corpus.write_text(CORPUS * 3)
    prefix = work / "spm"
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(prefix), vocab_size=100, model_type="unigram",
                                   pad_id=0, bos_id=1, eos_id=2, unk_id=3, pad_piece="[PAD]", bos_piece="[CLS]",
                                   eos_piece="[SEP]", unk_piece="[UNK]", user_defined_symbols=["[MASK]"],
                                   character_coverage=1.0, seed_sentencepiece_size=2000, shuffle_input_sentence=False,
                                   num_threads=1)
    return prefix.with_suffix(".model")


def fast_tokenizer(model_file: Path) -> Tokenizer:
    """transformers' DebertaV2Converter (SpmConverter), written out: what v3 checkpoints' tokenizer.json holds."""
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model_file.read_bytes())
    vocab = [(p.piece, p.score) for p in proto.pieces]
    unk_id = next(i for i, p in enumerate(proto.pieces) if p.type == 2)
    tok = Tokenizer(Unigram(vocab, unk_id=unk_id, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Strip(),
        normalizers.Precompiled(proto.normalizer_spec.precompiled_charsmap),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")])
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    ids = {p.piece: i for i, p in enumerate(proto.pieces)}
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])])
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in
                            ("[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]")])
    return tok


def write_model(out: Path, config: DebertaV2Config, seed: int, tokenizer_dir: Path):
    torch.manual_seed(seed)
    model = DebertaV2ForSequenceClassification(config).eval()
    with torch.no_grad():
        for p in model.parameters():  # larger than the default init, so every branch moves the logits visibly
            if p.dim() > 1:
                p.normal_(0.0, 0.2)
        model.classifier.weight.normal_(0.0, 1.0)
    model.save_pretrained(out)  # safetensors
    for f in tokenizer_dir.iterdir():
        shutil.copy(f, out / f.name)
    return model


def main(root: Path):
    work = Path(tempfile.mkdtemp())
    model_file = train_spm(work)
    sp = spm.SentencePieceProcessor(model_file=str(model_file))
    tok = fast_tokenizer(model_file)
    tokenizer_dir = work / "tokenizer"
    tokenizer_dir.mkdir()
    tok.save(str(tokenizer_dir / "tokenizer.json"))
    (tokenizer_dir / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "DebertaV2Tokenizer", "do_lower_case": False, "split_by_punct": False,
        "bos_token": "[CLS]", "eos_token": "[SEP]", "unk_token": "[UNK]", "sep_token": "[SEP]",
        "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"}, indent=1) + "\n")

    # The converted tokenizer must split each text as SentencePiece itself does.
    for q, a in CASES:
        for text in (q, a):
            fast = tok.encode(text, add_special_tokens=False).ids
            slow = sp.encode(text)
            assert fast == slow, (text, fast, slow)

    vocab = tok.get_vocab_size()
    pad = tok.token_to_id("[PAD]")
    v3 = DebertaV2Config(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=48, max_position_embeddings=128, relative_attention=True,
                         position_buckets=8, max_relative_positions=-1, pos_att_type=["p2c", "c2p"],
                         share_att_key=True, norm_rel_ebd="layer_norm", position_biased_input=False,
                         type_vocab_size=0, layer_norm_eps=1e-7, hidden_act="gelu", pooler_hidden_act="gelu",
                         pad_token_id=pad, num_labels=1)
    v2 = DebertaV2Config(vocab_size=vocab, hidden_size=32, embedding_size=24, num_hidden_layers=2,
                         num_attention_heads=4, intermediate_size=48, max_position_embeddings=128,
                         relative_attention=True, position_buckets=-1, max_relative_positions=6,
                         pos_att_type="p2c|c2p", share_att_key=False, norm_rel_ebd="none",
                         position_biased_input=True, type_vocab_size=2, conv_kernel_size=3, conv_act="gelu",
                         layer_norm_eps=1e-7, hidden_act="gelu", pooler_hidden_act="tanh", pad_token_id=pad,
                         num_labels=1)
    encodings = [tok.encode(q, a) for q, a in CASES]
    width = max(len(e.ids) for e in encodings)
    ids = torch.tensor([e.ids + [pad] * (width - len(e.ids)) for e in encodings])
    types = torch.tensor([e.type_ids + [0] * (width - len(e.ids)) for e in encodings])
    mask = torch.tensor([[1] * len(e.ids) + [0] * (width - len(e.ids)) for e in encodings])
    logits = {}
    for name, config, seed in (("tiny-deberta-v3-reward", v3, 5), ("tiny-deberta-v2-reward", v2, 6)):
        out = root / name
        if out.exists():
            shutil.rmtree(out)
        model = write_model(out, config, seed, tokenizer_dir)
        with torch.no_grad():
            logits[name] = model(input_ids=ids, attention_mask=mask, token_type_ids=types).logits[:, 0].tolist()
    (root / "tiny-deberta-expected.json").write_text(json.dumps(
        [{"question": q, "answer": a, "ids": e.ids, "type_ids": e.type_ids, "spm_question": sp.encode(q),
          "spm_answer": sp.encode(a), **{name: logits[name][i] for name in logits}}
         for i, ((q, a), e) in enumerate(zip(CASES, encodings))], ensure_ascii=False, indent=1) + "\n")
    print("wrote", list(logits), "vocab", vocab, "logits", logits)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
