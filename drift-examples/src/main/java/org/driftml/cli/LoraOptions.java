package org.driftml.cli;

import java.util.List;
import org.driftml.model.spec.LoraConfig;
import picocli.CommandLine.Option;

/**
 * LoRA for a trainer, by PEFT's names: {@code --lora-r} turns it on. Defaults are PEFT's: {@code lora_alpha} 8, no
 * dropout, and as target modules what PEFT picks for Qwen2, Llama and Mistral when none are named (q_proj, v_proj).
 */
final class LoraOptions {
    @Option(names = "--lora-r", paramLabel = "R",
            description = "Train LoRA adapters of rank R instead of every weight (PEFT's r); the base stays frozen "
                    + "and is DPO's reference")
    Integer rank;

    @Option(names = "--lora-alpha", paramLabel = "A", description = "PEFT's lora_alpha (default: 8)")
    Double alpha;

    @Option(names = "--lora-dropout", paramLabel = "P", description = "PEFT's lora_dropout (default: 0)")
    Double dropout;

    @Option(names = "--lora-target-modules", paramLabel = "NAMES", split = ",",
            description = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj or all-linear "
                    + "(default: q_proj,v_proj, as PEFT for these models)")
    List<String> targets;

    @Option(names = "--use-rslora", description = "Scale adapters by lora_alpha / sqrt(r) (PEFT's use_rslora)")
    boolean rslora;

    /**
     * The adapters' settings, or null when LoRA is off.
     *
     * @throws IllegalArgumentException naming the option when a value is invalid or given without --lora-r
     */
    LoraConfig config() {
        if (rank == null) {
            if (alpha != null || dropout != null || targets != null || rslora) {
                throw new IllegalArgumentException("--lora-alpha, --lora-dropout, --lora-target-modules and "
                        + "--use-rslora need --lora-r");
            }
            return null;
        }
        try {
            return new LoraConfig(rank, alpha != null ? alpha : 8.0, dropout != null ? dropout : 0.0,
                    targets != null ? targets : List.of("q_proj", "v_proj"), rslora);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--lora-*: " + e.getMessage());
        }
    }
}
