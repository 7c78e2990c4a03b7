package org.driftml.train;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.bytedeco.pytorch.Tensor;
import org.driftml.output.Progress;
import org.driftml.kernels.SequenceLogps;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.Decoder;

/**
 * Supervised fine-tuning: the mean negative log-likelihood of completion tokens given their prompts (TRL's
 * SFTTrainer with completion-only loss), through the fused log-prob op, with the same RMSprop over fp32 masters,
 * linear schedule and length-aware batches as the DPO engine. The simulated deployment uses it to give a fresh
 * model its starting behaviour.
 */
public final class SftTrainer implements AutoCloseable {
    /** One demonstration: prompt ids (not scored) and completion ids (scored, ending with the end token). */
    public record Example(long[] prompt, long[] completion) {}

    private final Decoder policy;
    private final MasterWeightRmsprop optimizer;
    private final double learningRate;
    private final int batchSize;
    private final int epochs;
    private final long padId;
    private final long seed;

    /**
     * Full fine-tuning of {@code policy}'s weights (fp32: they are their own masters), padding with its pad id.
     */
    public SftTrainer(org.driftml.model.Policy policy, double learningRate, int batchSize, int epochs, long seed) {
        this(policy.decoder(), learningRate, batchSize, epochs, policy.padId(), seed);
    }

    public SftTrainer(Decoder policy, double learningRate, int batchSize, int epochs, long padId, long seed) {
        this.policy = policy;
        this.learningRate = learningRate;
        this.batchSize = batchSize;
        this.epochs = epochs;
        this.padId = padId;
        this.seed = seed;
        this.optimizer = new MasterWeightRmsprop(TrainableWeights.of(policy), 0.0);
    }

    /** Trains every epoch; returns each step's loss, tokens and learning rate. Progress every 10% when given. */
    public List<Map<String, Double>> train(List<Example> examples, Progress progress) {
        int stepsPerEpoch = (examples.size() + batchSize - 1) / batchSize;
        int total = stepsPerEpoch * epochs;
        LinearSchedule schedule = LinearSchedule.of(learningRate, total, 0.1);
        List<Map<String, Double>> out = new ArrayList<>();
        int step = 0;
        for (int epoch = 0; epoch < epochs; epoch++) {
            for (List<Integer> batch : batches(examples, epoch)) {
                Map<String, Double> m = new LinkedHashMap<>();
                if (policy.adapters() != null) {
                    policy.adapters().training(true);  // LoRA dropout for this step's forward and backward
                }
                try (StepScope scope = StepScope.open()) {
                    List<long[]> prompts = new ArrayList<>(), completions = new ArrayList<>();
                    batch.forEach(i -> {
                        prompts.add(examples.get(i).prompt());
                        completions.add(examples.get(i).completion());
                    });
                    PreferenceBatch b = PreferenceBatch.sequences(prompts, completions, padId, policy.device());
                    SequenceLogps.Output o = SequenceLogps.compute(
                            policy.hiddenStates(b.inputIds(), null, null), policy.lmHead(), b.targets(),
                            b.completionMask(), b.scoredPositions());
                    double tokens = b.scoredPositions().size(0);  // known on the host: no read
                    Tensor loss = o.logps().sum().neg().div(new org.bytedeco.pytorch.Scalar(Math.max(tokens, 1)));
                    double value = loss.item_double();
                    if (!Double.isFinite(value)) {
                        throw new IllegalStateException("SFT step " + step + ": the loss is " + value);
                    }
                    loss.backward();
                    m.put("loss", value);
                    m.put("tokens", tokens);
                } finally {
                    if (policy.adapters() != null) {
                        policy.adapters().training(false);
                    }
                }
                double norm = optimizer.gradNorm();
                double lr = schedule.at(step);
                optimizer.step(lr, 1.0, norm);
                m.put("grad_norm", norm);
                m.put("learning_rate", lr);
                m.put("step", (double) step + 1);
                out.add(m);
                step++;
                if (step % Math.max(1, total / 10) == 0 || step == total) {
                    progress.line(String.format("  sft step %d/%d  loss %.4f", step, total, m.get("loss")));
                }
            }
        }
        return out;
    }

    /** Frees the optimiser's state and the gradients; the trained weights stay in the policy. */
    @Override
    public void close() {
        optimizer.close();
    }

    private List<List<Integer>> batches(List<Example> examples, int epoch) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < examples.size(); i++) {
            order.add(i);
        }
        // Shuffle first so equal lengths mix, then sort by length for little padding, then shuffle the batches.
        Collections.shuffle(order, new Random(seed * 7919 + epoch));
        order.sort(Comparator.comparingInt(i -> examples.get(i).prompt().length + examples.get(i).completion().length));
        List<List<Integer>> out = new ArrayList<>();
        for (int s = 0; s < order.size(); s += batchSize) {
            out.add(List.copyOf(order.subList(s, Math.min(order.size(), s + batchSize))));
        }
        Collections.shuffle(out, new Random(seed * 104729 + epoch));
        return out;
    }
}
