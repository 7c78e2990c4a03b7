"""Ten DPO steps by TRL's DPOTrainer, for drift's step-by-step trajectory test (llm.c's test_gpt2.c, for DPO).

    v/bin/python scripts/parity/make_dpo_trajectory_fixture.py drift-core/src/test/resources/parity/tiny-qwen2-chat \
        drift-core/src/test/resources/parity/trl-dpo-trajectory.json
    v/bin/python scripts/parity/make_dpo_trajectory_fixture.py drift-core/src/test/resources/parity/tiny-qwen2-chat \
        drift-core/src/test/resources/parity/trl-dpo-lora-trajectory.json --lora

With --lora, TRL trains PEFT LoRA adapters (r 4, lora_alpha 8, all-linear, no dropout) at a learning rate of 1e-3,
its reference being the model with the adapters disabled; the adapters as PEFT initialised them are written beside
the JSON (trl-dpo-lora-initial/, PEFT's format) so that drift starts from the same ones, and the watched values are
adapter weights.

TRL 1.13 trains the tiny random Qwen2 (tied embeddings, byte-level tokenizer, Qwen2.5's chat template) in fp32 on
four conversational pairs (their ids as TRL tokenises them are recorded too) with DRIFT's recipe at a learning rate that moves a tiny model: RMSprop (torch's, alpha
0.99, eps 1e-8), a linear schedule with warmup ratio 0.1, beta 0.1, sigmoid loss, gradient clipping at 1.0, and
RPO (TRL 1.13 has no rpo_alpha: loss_type [sigmoid, sft] with loss_weights [1, alpha]).
The batch is all four pairs, so every step sees the same batch whatever order TRL's sampler draws them in. Per step
it records what TRL logs (loss, grad_norm before clipping, rewards, log-probs), the learning rate the optimiser used
(read from its parameter group just before the step) and a few values of chosen parameters after the step.
"""
import json
import sys
import tempfile
from pathlib import Path

import torch
import transformers
import trl
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl import DPOConfig, DPOTrainer

PAIRS = [
    {"prompt": [{"role": "user", "content": "What is 2+2?"}],
     "chosen": [{"role": "assistant", "content": "4"}],
     "rejected": [{"role": "assistant", "content": "5, I think."}]},
    {"prompt": [{"role": "user", "content": "Name a colour of the sky."}],
     "chosen": [{"role": "assistant", "content": "Blue."}],
     "rejected": [{"role": "assistant", "content": "Green."}]},
    {"prompt": [{"role": "user", "content": "Capital of France?"},
                {"role": "assistant", "content": "Lyon."},
                {"role": "user", "content": "No, that's wrong."}],
     "chosen": [{"role": "assistant", "content": "Paris."}],
     "rejected": [{"role": "assistant", "content": "Marseille."}]},
    {"prompt": [{"role": "user", "content": "3*3?"}],
     "chosen": [{"role": "assistant", "content": "9"}],
     "rejected": [{"role": "assistant", "content": "6"}]},
]

SETTINGS = {"learning_rate": 2e-4, "warmup_ratio": 0.1, "beta": 0.1, "rpo_alpha": 0.5, "max_grad_norm": 1.0,
            "batch_size": 4, "steps": 10}

LORA = {"r": 4, "lora_alpha": 8, "target_modules": "all-linear", "learning_rate": 1e-3}
LORA_WATCHED = {
    "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": (0, 0, 4),
    "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight": (3, 0, 4),
    "base_model.model.model.layers.1.mlp.down_proj.lora_A.weight": (0, 0, 8),
    "base_model.model.model.layers.0.mlp.gate_proj.lora_A.weight": (2, 0, 8),
}

# Parameter values recorded after each step: name -> (row, first column, count) of the weight's 2-D view.
WATCHED = {
    "model.embed_tokens.weight": (72, 0, 8),  # "H" (bytes shift by one in this tokenizer): in the prompts
    "model.layers.0.self_attn.q_proj.weight": (0, 0, 8),
    "model.layers.0.self_attn.q_proj.bias": (0, 0, 8),
    "model.layers.1.mlp.down_proj.weight": (3, 0, 8),
    "model.layers.1.input_layernorm.weight": (0, 0, 8),
    "model.norm.weight": (0, 0, 8),
}


def watched(model, names=None):
    # PEFT names its parameters with the adapter's name (lora_A.default.weight); its files leave it out.
    params = {k.replace(".default.", "."): v for k, v in model.named_parameters()}
    out = {}
    for name, (row, col, n) in (names or WATCHED).items():
        w = params[name].detach()
        w = w.view(1, -1) if w.dim() == 1 else w
        out[name] = w[row, col:col + n].tolist()
    return out


class Recorder(TrainerCallback):
    def __init__(self, names=None, initial=None):
        self.lrs, self.params, self.names, self.initial, self.before = [], [], names, initial, None

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if self.initial is not None:  # the adapters as PEFT initialised them, before any step
            self.before = watched(model, self.names)
            model.save_pretrained(self.initial)
            (self.initial / "README.md").unlink()

    def on_pre_optimizer_step(self, args, state, control, optimizer=None, **kwargs):
        self.lrs.append(optimizer.param_groups[0]["lr"])

    def on_step_end(self, args, state, control, model=None, **kwargs):
        self.params.append(watched(model, self.names))


def main(model_dir: Path, out: Path, lora: bool):
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    before = None if lora else watched(model)
    settings = dict(SETTINGS, **({"learning_rate": LORA["learning_rate"], "lora": LORA} if lora else {}))
    config = DPOConfig(
        output_dir=tempfile.mkdtemp(prefix="trl_dpo_trajectory_"),
        max_steps=SETTINGS["steps"],
        per_device_train_batch_size=SETTINGS["batch_size"],
        gradient_accumulation_steps=1,
        learning_rate=settings["learning_rate"],
        lr_scheduler_type="linear",
        warmup_steps=SETTINGS["warmup_ratio"],  # transformers 5 reads a float < 1 as a ratio
        optim="rmsprop",
        weight_decay=0.0,
        max_grad_norm=SETTINGS["max_grad_norm"],
        # RPO as TRL 1.13 writes it: the sigmoid loss plus rpo_alpha times the chosen tokens' cross-entropy.
        loss_type=["sigmoid", "sft"],
        loss_weights=[1.0, SETTINGS["rpo_alpha"]],
        beta=SETTINGS["beta"],
        bf16=False,
        gradient_checkpointing=False,
        use_cpu=True,
        eval_strategy="no",
        save_strategy="no",
        report_to="none",
        logging_steps=1,
        disable_tqdm=True,
        dataloader_num_workers=0,
        seed=0,
    )
    peft_config = None
    recorder = Recorder()
    if lora:
        from peft import LoraConfig
        peft_config = LoraConfig(task_type="CAUSAL_LM", r=LORA["r"], lora_alpha=LORA["lora_alpha"],
                                 target_modules=LORA["target_modules"], lora_dropout=0.0)
        recorder = Recorder(LORA_WATCHED, out.parent / "trl-dpo-lora-initial")
    trainer = DPOTrainer(model=model, args=config, train_dataset=Dataset.from_list(PAIRS),
                         processing_class=tokenizer, callbacks=[recorder], peft_config=peft_config)
    # The ids TRL trains on: its completions keep the chat template's "\n" after <|im_end|>, which drift's
    # PairTokenizer leaves out (README, Tokenisation), so the test feeds these ids to drift's engine as they are.
    tokenized = [{k: trainer.train_dataset[i][k] for k in ("prompt_ids", "chosen_ids", "rejected_ids")}
                 for i in range(len(PAIRS))]
    trainer.train()
    before = before if before is not None else recorder.before
    logs = [h for h in trainer.state.log_history if "loss" in h and "step" in h]
    assert len(logs) == SETTINGS["steps"], logs
    keys = ["loss", "grad_norm", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies",
            "logps/chosen", "logps/rejected"]
    steps = []
    for i, h in enumerate(logs):
        step = {k: h[k] for k in keys if k in h}
        step["step"] = h["step"]
        step["learning_rate_used"] = recorder.lrs[i]
        step["params"] = recorder.params[i]
        steps.append(step)
    out.write_text(json.dumps({"trl": trl.__version__, "transformers": transformers.__version__,
                               "torch": torch.__version__, "settings": settings, "pairs": PAIRS, "tokenized": tokenized,
                               "watched": {k: list(v) for k, v in (LORA_WATCHED if lora else WATCHED).items()},
                               "params_before": before,
                               "steps": steps}, indent=1) + "\n")
    print(out, "trl", trl.__version__, len(steps), "steps; losses", [round(s["loss"], 5) for s in steps])


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), "--lora" in sys.argv[3:])
