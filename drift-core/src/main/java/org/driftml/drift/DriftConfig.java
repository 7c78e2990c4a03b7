package org.driftml.drift;

import java.util.List;
import org.driftml.model.spec.LoraConfig;
import org.driftml.model.spec.Precision;
import org.driftml.train.DpoConfig;

/**
 * Everything a DRIFT run (or its SPIN and IterDPO baselines) needs beyond the data and the model.
 *
 * @param method          which pairs each iteration builds: DRIFT (logged y-, fresh y+), SPIN, ITERDPO
 * @param iterations      K, the number of sample-then-train iterations after the warm start (paper: 2)
 * @param reference       BASE: the input model, frozen (default); PREVIOUS: the policy at the iteration's start
 * @param promptStyle     how the positive's sampling prompt shows the feedback (released code: TRANSCRIPT)
 * @param temperature     sampling temperature for positives (paper: 0.7)
 * @param topP            nucleus mass (paper: 0.9)
 * @param maxNewTokens    longest sample (paper: 512)
 * @param generationBatch prompts sampled together; also the unit of crash-safe progress
 * @param maxPromptLength TRL's max_prompt_length (paper: 1024)
 * @param maxLength       TRL's max_length (paper: 2048)
 * @param warmStart       DPO settings on the DSAT-to-SAT seed pairs, or null to skip the warm start
 * @param iteration       DPO settings for each iteration's pairs (paper: 1 epoch)
 * @param precision       FP32 or BF16 compute over fp32 masters (paper: bf16; FP32 is the CPU default)
 * @param subsample       controlled setting: use this many items, drawn by seed (0: all of them, the full setting)
 * @param saveSteps       checkpoint every this many optimiser steps within a stage (and always at its end)
 * @param seed            data order, sampling and subsampling all derive from it
 * @param taus            thresholds for the diagnostic share of pairs with sigma(-s) >= tau
 */
public record DriftConfig(Method method, int iterations, Reference reference, FeedbackPrompt.Style promptStyle,
        double temperature, double topP, int maxNewTokens, int generationBatch, int maxPromptLength, int maxLength,
        DpoConfig warmStart, DpoConfig iteration, Precision precision, int subsample, int saveSteps, long seed,
        List<Double> taus, LoraConfig lora) {
    public enum Method {
        DRIFT,
        SPIN,
        ITERDPO;

        public static Method parse(String s) {
            return valueOf(s.trim().toUpperCase(java.util.Locale.ROOT).replace("-", ""));
        }
    }

    public enum Reference {
        BASE,
        PREVIOUS
    }

    public DriftConfig {
        // Checked here, before a run starts: a sampling setting checked only when the first iteration samples
        // failed after the warm start had trained, with run.json already recording it.
        require(method != null && reference != null && promptStyle != null && precision != null,
                "method, reference, promptStyle and precision", "set", null);
        require(iterations >= 0, "iterations", ">= 0", iterations);
        require(Double.isFinite(temperature) && temperature > 0, "temperature", "a finite number > 0", temperature);
        require(topP > 0 && topP <= 1, "topP", "in (0, 1]", topP);
        require(maxNewTokens >= 1, "maxNewTokens", ">= 1", maxNewTokens);
        require(generationBatch >= 1, "generationBatch", ">= 1", generationBatch);
        require(maxPromptLength >= 1 && maxLength > maxPromptLength, "maxLength",
                "greater than maxPromptLength (" + maxPromptLength + "), which must be >= 1", maxLength);
        require(iteration != null, "iteration", "set", null);
        require(subsample >= 0, "subsample", ">= 0 (0: all items)", subsample);
        require(saveSteps >= 0, "saveSteps", ">= 0", saveSteps);
        taus = List.copyOf(taus);
        for (double tau : taus) {
            require(tau > 0 && tau < 1, "taus", "each in (0, 1)", taus);
        }
    }

    private static void require(boolean ok, String field, String expected, Object got) {
        if (!ok) {
            throw new IllegalArgumentException(field + " must be " + expected + (got == null ? "" : ", got " + got));
        }
    }

    /** The paper's recipe: DRIFT, K = 2, frozen base reference, released prompt, T 0.7, top-p 0.9, 512 tokens. */
    public static DriftConfig paper() {
        return new DriftConfig(Method.DRIFT, 2, Reference.BASE, FeedbackPrompt.Style.TRANSCRIPT, 0.7, 0.9, 512, 8,
                1024, 2048, DpoConfig.warmStart(), DpoConfig.iteration(), Precision.FP32, 0, 50, 42,
                List.of(0.1, 0.25, 0.5), null);
    }

    /**
     * Each stage trains fresh LoRA adapters on the model the stage starts from, then merges them in: the stage's
     * folder holds both the adapters (PEFT's format) and the merged model the next stage starts from. The reference
     * "previous" is then the base with the adapters off, exactly; "base" is the original model. Null: every weight
     * trains (the paper's full fine-tuning).
     */
    public DriftConfig withLora(LoraConfig l) {
        return new DriftConfig(method, iterations, reference, promptStyle, temperature, topP, maxNewTokens,
                generationBatch, maxPromptLength, maxLength, warmStart, iteration, precision, subsample, saveSteps,
                seed, taus, l);
    }

    public DriftConfig withMethod(Method m) {
        return new DriftConfig(m, iterations, reference, promptStyle, temperature, topP, maxNewTokens,
                generationBatch, maxPromptLength, maxLength, warmStart, iteration, precision, subsample, saveSteps,
                seed, taus, lora);
    }

    public DriftConfig withIterations(int k) {
        return new DriftConfig(method, k, reference, promptStyle, temperature, topP, maxNewTokens, generationBatch,
                maxPromptLength, maxLength, warmStart, iteration, precision, subsample, saveSteps, seed, taus, lora);
    }

    public DriftConfig withReference(Reference r) {
        return new DriftConfig(method, iterations, r, promptStyle, temperature, topP, maxNewTokens, generationBatch,
                maxPromptLength, maxLength, warmStart, iteration, precision, subsample, saveSteps, seed, taus, lora);
    }

    public DriftConfig withSampling(FeedbackPrompt.Style style, double t, double p, int newTokens, int batch) {
        return new DriftConfig(method, iterations, reference, style, t, p, newTokens, batch, maxPromptLength,
                maxLength, warmStart, iteration, precision, subsample, saveSteps, seed, taus, lora);
    }

    public DriftConfig withLengths(int prompt, int total) {
        return new DriftConfig(method, iterations, reference, promptStyle, temperature, topP, maxNewTokens,
                generationBatch, prompt, total, warmStart, iteration, precision, subsample, saveSteps, seed, taus,
                lora);
    }

    public DriftConfig withDpo(DpoConfig warm, DpoConfig iter) {
        return new DriftConfig(method, iterations, reference, promptStyle, temperature, topP, maxNewTokens,
                generationBatch, maxPromptLength, maxLength, warm, iter, precision, subsample, saveSteps, seed, taus,
                lora);
    }

    public DriftConfig withRun(Precision p, int subsampleTo, int save, long s) {
        return new DriftConfig(method, iterations, reference, promptStyle, temperature, topP, maxNewTokens,
                generationBatch, maxPromptLength, maxLength, warmStart, iteration, p, subsampleTo, save, s, taus,
                lora);
    }
}
