package org.driftml.report;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What one DPO optimiser step measured, typed. TRL's names (and the key order {@code metrics.jsonl} has always had)
 * appear only where the metrics are written, read back or compared with TRL's own logs: {@link #trl()}, {@link
 * #fromTrl}, {@link #get}.
 *
 * @param step             1-based optimiser step
 * @param epoch            fractional epoch at the step's end (TRL's {@code epoch}); NaN before the loop places it
 * @param loss             the batch's mean loss (Eq. 2, with the RPO term when on)
 * @param chosenReward     mean implicit reward beta (log pi - log pi_ref) of the chosen replies
 * @param rejectedReward   the same for the rejected replies
 * @param margin           mean of chosen minus rejected reward (TRL's {@code rewards/margins})
 * @param accuracy         share of pairs whose chosen reward exceeds the rejected one
 * @param chosenLogp       mean summed log-probability of the chosen replies under the policy
 * @param rejectedLogp     the same for the rejected replies
 * @param paddingFraction  share of the forward's positions that were padding
 * @param microBatches     micro-batches this process ran for the step
 * @param gradNorm         global gradient norm before clipping
 * @param learningRate     the schedule's rate for the step
 * @param allreduceSeconds this rank's wait in the gradients' all-reduce (NaN: one process)
 * @param allgatherSeconds this rank's wait in ZeRO's all-gather of the weights (NaN: not sharded)
 */
public record StepMetrics(int step, double epoch, double loss, double chosenReward, double rejectedReward,
        double margin, double accuracy, double chosenLogp, double rejectedLogp, double paddingFraction,
        int microBatches, double gradNorm, double learningRate, double allreduceSeconds, double allgatherSeconds) {

    /**
     * A step's forward and backward measured, before the update: {@code loss} holds the loss's metrics in the order
     * loss, rewards/chosen, rewards/rejected, rewards/margins, rewards/accuracies, logps/chosen, logps/rejected.
     */
    public static StepMetrics beforeUpdate(double[] loss, double paddingFraction, int microBatches,
            double allreduceSeconds) {
        return new StepMetrics(0, Double.NaN, loss[0], loss[1], loss[2], loss[3], loss[4], loss[5], loss[6],
                paddingFraction, microBatches, Double.NaN, Double.NaN, allreduceSeconds, Double.NaN);
    }

    /** These metrics with the update's: the step (1-based), the gradient norm, the rate, the all-gather's wait. */
    public StepMetrics updated(int atStep, double norm, double rate, double gatherSeconds) {
        return new StepMetrics(atStep, epoch, loss, chosenReward, rejectedReward, margin, accuracy, chosenLogp,
                rejectedLogp, paddingFraction, microBatches, norm, rate, allreduceSeconds, gatherSeconds);
    }

    /** These metrics at {@code step} (1-based) and {@code epoch}, as the training loop places them. */
    public StepMetrics at(int atStep, double atEpoch) {
        return new StepMetrics(atStep, atEpoch, loss, chosenReward, rejectedReward, margin, accuracy, chosenLogp,
                rejectedLogp, paddingFraction, microBatches, gradNorm, learningRate, allreduceSeconds,
                allgatherSeconds);
    }

    /** Under TRL's names, in metrics.jsonl's order; the timings only when measured. */
    public Map<String, Double> trl() {
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("loss", loss);
        m.put("rewards/chosen", chosenReward);
        m.put("rewards/rejected", rejectedReward);
        m.put("rewards/margins", margin);
        m.put("rewards/accuracies", accuracy);
        m.put("logps/chosen", chosenLogp);
        m.put("logps/rejected", rejectedLogp);
        m.put("padding_fraction", paddingFraction);
        if (!Double.isNaN(allreduceSeconds)) {
            m.put("allreduce_seconds", allreduceSeconds);
        }
        m.put("micro_batches", (double) microBatches);
        if (!Double.isNaN(allgatherSeconds)) {
            m.put("allgather_seconds", allgatherSeconds);
        }
        m.put("grad_norm", gradNorm);
        m.put("learning_rate", learningRate);
        m.put("step", (double) step);
        if (!Double.isNaN(epoch)) {
            m.put("epoch", epoch);
        }
        return m;
    }

    /** Each step under TRL's names (for plots and files). */
    public static List<Map<String, Double>> trl(List<StepMetrics> steps) {
        return steps.stream().map(StepMetrics::trl).toList();
    }

    /**
     * One metric by TRL's name, for comparing with TRL's own logs.
     *
     * @throws IllegalArgumentException for a name these metrics do not hold
     */
    public double get(String trlName) {
        Double v = trl().get(trlName);
        if (v == null) {
            throw new IllegalArgumentException("no metric " + trlName + " (these are " + trl().keySet() + ")");
        }
        return v;
    }

    /** A metrics.jsonl record read back; a metric it lacks is NaN (0 micro-batches). */
    public static StepMetrics fromTrl(Map<String, Double> m) {
        return new StepMetrics(value(m, "step").intValue(), value(m, "epoch"), value(m, "loss"),
                value(m, "rewards/chosen"), value(m, "rewards/rejected"), value(m, "rewards/margins"),
                value(m, "rewards/accuracies"), value(m, "logps/chosen"), value(m, "logps/rejected"),
                value(m, "padding_fraction"), (int) (double) m.getOrDefault("micro_batches", 0.0),
                value(m, "grad_norm"), value(m, "learning_rate"), value(m, "allreduce_seconds"),
                value(m, "allgather_seconds"));
    }

    private static Double value(Map<String, Double> m, String key) {
        Double v = m.get(key);
        return v == null ? Double.NaN : v;
    }
}
