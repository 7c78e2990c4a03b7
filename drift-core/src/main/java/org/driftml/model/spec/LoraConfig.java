package org.driftml.model.spec;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * LoRA adapters as PEFT's {@code LoraConfig} describes them: each targeted linear layer {@code y = W x} becomes
 * {@code y = W x + s * B(A(dropout(x)))} with A [r, in], B [out, r] and {@code s = alpha / r}, or {@code alpha /
 * sqrt(r)} with rsLoRA (Kalajdzievski 2023, PEFT's {@code use_rslora}).
 *
 * @param rank          r, the adapters' inner width (PEFT's {@code r})
 * @param alpha         PEFT's {@code lora_alpha}
 * @param dropout       PEFT's {@code lora_dropout}: on the adapter's input only, in training
 * @param targetModules PEFT's module names ({@code q_proj}, {@code k_proj}, {@code v_proj}, {@code o_proj},
 *                      {@code gate_proj}, {@code up_proj}, {@code down_proj}), or {@link #ALL_LINEAR} alone: every
 *                      linear layer of the decoder layers (not the lm-head, as PEFT's {@code all-linear})
 * @param useRslora     scale by {@code alpha / sqrt(r)} instead of {@code alpha / r}
 */
public record LoraConfig(int rank, double alpha, double dropout, List<String> targetModules, boolean useRslora) {
    /** PEFT's shorthand for every linear layer but the output head. */
    public static final String ALL_LINEAR = "all-linear";

    /** The decoders' linear layers, by PEFT's names, in the order a layer applies them. */
    public static final List<String> LINEAR_MODULES = List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
            "up_proj", "down_proj");

    /** Validates every argument, naming it; target modules are kept in the decoder's order, once each. */
    public LoraConfig {
        if (rank < 1) {
            throw new IllegalArgumentException("LoRA rank (r) must be at least 1, got " + rank);
        }
        if (!(alpha > 0) || Double.isInfinite(alpha)) {
            throw new IllegalArgumentException("lora_alpha must be a positive finite number, got " + alpha);
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException("lora_dropout must be in [0, 1), got " + dropout);
        }
        if (targetModules == null || targetModules.isEmpty()) {
            throw new IllegalArgumentException("target_modules must name at least one module (or " + ALL_LINEAR
                    + ")");
        }
        Set<String> seen = new LinkedHashSet<>(targetModules);
        if (seen.contains(ALL_LINEAR)) {
            if (seen.size() > 1) {
                throw new IllegalArgumentException("target_modules: " + ALL_LINEAR + " stands alone, got "
                        + targetModules);
            }
            targetModules = LINEAR_MODULES;
        } else {
            List<String> unknown = new ArrayList<>(seen);
            unknown.removeAll(LINEAR_MODULES);
            if (!unknown.isEmpty()) {
                throw new IllegalArgumentException("target_modules: unknown module " + String.join(", ", unknown)
                        + "; this decoder's linear layers are " + String.join(", ", LINEAR_MODULES) + " (or "
                        + ALL_LINEAR + ")");
            }
            targetModules = LINEAR_MODULES.stream().filter(seen::contains).toList();
        }
    }

    /** r, alpha and the target modules; no dropout, no rsLoRA (PEFT's defaults for those two). */
    public static LoraConfig of(int rank, double alpha, String... targetModules) {
        return new LoraConfig(rank, alpha, 0.0, List.of(targetModules), false);
    }

    /**
     * Refuses a rank no adapter of {@code model} can use: above the smaller side of a targeted layer, the update
     * B A has no more rank to give, only more memory (--lora-r 100000 was accepted and took 1.5 GB on the test
     * model). The message says what it would cost.
     *
     * @throws IllegalArgumentException naming r, the narrowest targeted layer and the adapters' size at this rank
     */
    public void checkFits(ModelConfig model) {
        long q = (long) model.numAttentionHeads() * model.headDim(), kv = (long) model.numKeyValueHeads()
                * model.headDim(), h = model.hiddenSize(), i = model.intermediateSize();
        long narrowest = Long.MAX_VALUE, perLayer = 0;
        String where = null;
        for (String m : targetModules) {
            long[] io = switch (m) {
                case "q_proj" -> new long[] {h, q};
                case "k_proj", "v_proj" -> new long[] {h, kv};
                case "o_proj" -> new long[] {q, h};
                case "gate_proj", "up_proj" -> new long[] {h, i};
                default -> new long[] {i, h};  // down_proj
            };
            perLayer += (long) rank * (io[0] + io[1]);
            if (Math.min(io[0], io[1]) < narrowest) {
                narrowest = Math.min(io[0], io[1]);
                where = m + " (" + io[0] + " x " + io[1] + ")";
            }
        }
        if (rank > narrowest) {
            long bytes = perLayer * model.numHiddenLayers() * 4;
            throw new IllegalArgumentException("LoRA rank (r) " + rank + " is more than " + where + " can use (at most "
                    + narrowest + "); at this rank the adapters alone would take " + (bytes >> 20) + " MB in fp32");
        }
    }

    /** The factor on the adapter's output: alpha / r, or alpha / sqrt(r) with rsLoRA. */
    public double scaling() {
        return useRslora ? alpha / Math.sqrt(rank) : alpha / rank;
    }

    /** The settings by PEFT's names, in a fixed order: what a run record keeps of them. */
    public java.util.Map<String, Object> settings() {
        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("r", rank);
        m.put("lora_alpha", alpha);
        m.put("lora_dropout", dropout);
        m.put("target_modules", targetModules);
        m.put("use_rslora", useRslora);
        return m;
    }

    /** Whether the layer named {@code module} (its last name part, e.g. {@code q_proj}) is targeted. */
    public boolean targets(String module) {
        return targetModules.contains(module);
    }
}
